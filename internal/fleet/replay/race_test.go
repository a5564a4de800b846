//go:build race

package replay

// The race detector slows the pure-Go SQLite several times over: under it
// the campaign runs on a smaller fleet (the same timeline, spike and
// checks); without it, on the 40 organisations and 200 servers of the
// acceptance run.
const raceEnabled = true

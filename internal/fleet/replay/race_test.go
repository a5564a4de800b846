//go:build race

package replay

// The race detector slows the pure-Go SQLite many times over: under it
// the campaign runs on a smaller fleet (the same timeline, spike and
// checks) and on PostgreSQL only; without it, on both backends with the 40
// organisations and 200 servers of the acceptance run.
const raceEnabled = true

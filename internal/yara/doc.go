// Package yara is a pure-Go engine for YARA rules, sized for what web-shell
// and log rules use: text, hex and regular-expression strings with their
// modifiers, and conditions over string matches, the file's bytes, its size
// and external variables. It needs no cgo, so it builds for Windows.
//
//	c := yara.NewCompiler()
//	c.DefineString("filename", "")         // externals, like yara -d
//	probs := c.Add("rules/webshells.yar", src)
//	rules, probs := c.Rules()
//	matches, err := rules.Scan(data, map[string]string{"filename": "x.aspx"})
//
// Compiler.Add reports problems with file and line. A rule that uses
// something the engine does not support (a module such as "pe" or "math",
// entrypoint, a backreference) or that YARA would reject (an unreferenced
// string, a type mismatch, xor with nocase, ...) is skipped with the reason;
// the other rules still load. A syntax error drops the rule it is in and
// parsing resumes at the next line that starts a rule. Include directives
// are reported, not followed.
//
// # Scanning
//
// The literal atoms of every string of every rule (up to 12 bytes, the most
// selective run of fixed bytes; xor keys, wide and base64 forms expanded)
// go into one Aho-Corasick automaton over ASCII-case-folded bytes. A scan is
// one pass of it over the data; each atom hit is then confirmed by comparing
// the whole string, or by running the string's program (hex or regular
// expression) anchored at each start the atom allows. Strings without a
// usable atom are tried at every position instead; Rules.Stats names their
// rules. Programs backtrack over bytes with memoisation, so no input makes
// them exponential, and a per-string step budget (ScanOptions.StepBudget)
// bounds the time a hostile pattern can take.
//
// Most candidates need no confirming: a rule's condition implies a gate
// (gate.go), clauses of strings one of which must match ("$a and any of
// ($b*)" needs $a, and one $b) and bounds on the file size. A file read
// whole is searched once with confirmation deferred for gated rules; then
// only the candidates of rules whose every clause had an atom, and whose
// size bounds hold, are confirmed. The others are false whatever their
// other strings match, so results are unchanged; on web pages, where
// runat="server" feeds regular expressions on every line, this halves the
// scan.
//
// Rules.ScanReader reads a file whole when it fits ScanOptions.MaxBuffer
// (64 MiB by default) and then behaves exactly like Scan. A bigger file is
// scanned in windows that overlap; offsets stay those of the whole file and
// each match is reported once (see ScanReader for the limits).
//
// # Semantics kept from YARA 4.2
//
// The engine is tested against the yara tool: for every supported rule of
// the upstream rule files, of testdata/oracle and of generated random rules
// it reports the same rules and the same string matches (offsets and data).
//
//   - Matches of one string are reported once per start offset, sorted;
//     text strings report overlapping matches ("aa" in "aaaa" three times).
//     A string keeps at most ScanOptions.MaxMatchesPerString matches
//     (default 1,000,000, YARA's limit); its rule's Match is then Truncated.
//   - A string used only as "$a at C" (C constant) is only looked for at C,
//     as YARA does, so only that match is reported.
//   - Regular expressions match bytes; a match is the leftmost-first match
//     anchored at its start; every start is reported; a match may start at
//     most 4096 bytes before its atom and end at most 4096 bytes after it
//     (YARA's RE_SCAN_LIMIT). \b holds at the edges of the data. nocase
//     folds ASCII letters only, and folds classes before negating them.
//     Mixing greedy and lazy quantifiers is an error, as in YARA.
//   - Hex jumps are lazy; jumps wider than 200 bytes or unbounded split the
//     string into chained parts searched separately (no 4096-byte limit).
//   - fullword uses YARA's test (ASCII alphanumerics; _ is no word byte).
//   - base64 strings are the three encodings of the text at each alignment,
//     minus the characters that depend on neighbouring bytes.
//   - Undefined values (@a[i] past the last match, uint32 past the end,
//     division by zero at run time) make comparisons undefined; undefined is
//     false under and, ignored by or, and stays undefined under not. A for
//     loop over an empty range is false.
//   - A global rule that fails makes every rule of its namespace fail;
//     private rules and private strings are never reported.
//
// # Differences
//
// YARA splits each string at its own 4-byte atom, matches forward from it
// with its own search order and backward exhaustively, and keeps the first
// match found per offset. Where several lengths are possible from one start
// the result then depends on YARA's atom choice:
//
//   - alternatives whose branches can match different lengths at the same
//     start (/abcd|ab/, { 2E ( 2E 2D | 2E ) }): this engine takes the first
//     branch that leads to a match (leftmost-first), YARA often the shorter;
//   - hex strings with two or more jumps: this engine reports the shortest
//     match from a start; YARA may report a longer one, or miss it;
//   - the 4096-byte limits apply around this engine's atom, not YARA's.
//
// These do not occur in the upstream Exchange rules. Not supported at all:
// modules (pe, math, hash, dotnet, ...) and their functions, entrypoint,
// "for ... in" over module arrays, include, rule sets in "of" and "at" on
// "of" (YARA 4.3), hex "~" (4.3).
package yara

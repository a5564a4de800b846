package yara

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"slices"
	"sort"
	"sync"
	"time"
	"unsafe"
)

// Rules are compiled rules, ready to scan. They are safe for concurrent use.
type Rules struct {
	rules    []*crule
	strs     []*cstring
	pats     []*pattern
	exts     []external
	extIdx   map[string]int
	ac       *automaton
	atoms    []atomRef
	fallback []int   // patterns without atoms
	gates    []gate  // per rule
	patRule  []int32 // per pattern: its rule
	noAtom   []bool  // per string: searched without atoms
	stats    Stats
	pool     sync.Pool
}

// atomRef ties an automaton atom to the pattern it was taken from.
type atomRef struct {
	pat            int32
	alen           int32
	minPre, maxPre int32
}

// Stats describes compiled rules.
type Stats struct {
	Rules    int // rules loaded
	Strings  int
	Patterns int // searchable variants (ascii/wide, xor keys, base64 forms, chain parts)
	Atoms    int
	States   int // automaton states
	// FallbackRules names the rules with a string that has no usable atom
	// and is searched at every position instead.
	FallbackRules []string
}

// Stats returns figures about the compiled rules.
func (r *Rules) Stats() Stats { return r.stats }

// RuleInfo describes a compiled rule.
type RuleInfo struct {
	Rule      string
	Namespace string
	File      string // as given to Compiler.Add
	Line      int
	Tags      []string
	Meta      map[string]any
}

// List describes the rules a scan can report (private rules are left out),
// in the order they were added.
func (r *Rules) List() []RuleInfo {
	var out []RuleInfo
	for _, c := range r.rules {
		if c.private {
			continue
		}
		ri := RuleInfo{Rule: c.name, Namespace: c.ns, File: c.file, Line: c.line, Tags: append([]string(nil), c.tags...), Meta: map[string]any{}}
		for _, e := range c.meta {
			ri.Meta[e.key] = e.val // the last of a repeated key, as in Match
		}
		out = append(out, ri)
	}
	return out
}

func newRules(c *Compiler) (*Rules, error) {
	r := &Rules{rules: c.rules, strs: c.strs, pats: c.pats, exts: c.exts, extIdx: c.extIdx}
	var lits [][]byte
	fallbackRules := map[string]bool{}
	for pi, p := range c.pats {
		if len(p.atoms) == 0 {
			r.fallback = append(r.fallback, pi)
			rule := c.rules[c.strs[p.str].rule]
			if !fallbackRules[rule.name] {
				fallbackRules[rule.name] = true
				r.stats.FallbackRules = append(r.stats.FallbackRules, rule.name)
			}
			continue
		}
		for _, a := range p.atoms {
			lits = append(lits, a.lit)
			r.atoms = append(r.atoms, atomRef{pat: int32(pi), alen: int32(len(a.lit)), minPre: int32(a.minPre), maxPre: int32(a.maxPre)})
		}
	}
	ac, err := buildAutomaton(lits)
	if err != nil {
		return nil, err
	}
	r.ac = ac
	r.stats.Rules = len(c.rules)
	r.stats.Strings = len(c.strs)
	r.stats.Patterns = len(c.pats)
	r.stats.Atoms = len(r.atoms)
	r.stats.States = ac.states()
	r.buildGates()
	return r, nil
}

// Match is a rule that matched a file.
type Match struct {
	Rule      string
	Namespace string
	Tags      []string
	Meta      map[string]any
	Strings   []StringMatch
	// Truncated is set when a string of the rule reached the match cap:
	// its count and offsets then cover only the first matches kept.
	Truncated bool
}

// StringMatch is one match of a (non-private) string.
type StringMatch struct {
	ID     string
	Offset int64 // from the start of the file
	Length int64
	Data   []byte // the first ScanOptions.MaxMatchData bytes of the match
}

// ScanOptions tune a scan; the zero value means the defaults.
type ScanOptions struct {
	// MaxBuffer is the largest file read whole (default 64 MiB). A bigger
	// file is scanned in windows of this size overlapping by Overlap.
	MaxBuffer int64
	// Overlap between windows (default 1 MiB, at most MaxBuffer/2). A match
	// longer than Overlap/2 that straddles a window boundary may be missed.
	Overlap int64
	// MaxMatchesPerString caps the matches kept per string (default
	// 1,000,000, YARA's YR_MAX_STRING_MATCHES).
	MaxMatchesPerString int
	// MaxMatchData caps the bytes of each match kept in Data (default 512,
	// what yara prints).
	MaxMatchData int
	// StepBudget bounds the work spent confirming one string's candidates
	// in one scan (steps of its program, default 64M plus 64 per byte of
	// the file). Past it the string stops matching and is reported in
	// ScanInfo.SlowStrings; its rule is marked Truncated.
	StepBudget int
	// MaxMemory bounds the bytes a scan keeps for matches (each match's
	// record and data, the tables joining the parts of a string with long
	// jumps); default 64 MiB. A string whose matches would go past it stops
	// matching and is reported in ScanInfo.MemoryStrings; its rule is marked
	// Truncated. The read window (MaxBuffer) comes on top.
	MaxMemory int64
	// Timeout bounds the time spent matching one scan (default one minute;
	// negative for none). Past it every string stops matching; the strings
	// being matched are reported in ScanInfo.TimeoutStrings, and rules are
	// evaluated on the matches found so far.
	Timeout time.Duration
	// Info, when set, receives details of the scan.
	Info *ScanInfo
}

// ScanInfo reports how a scan went.
type ScanInfo struct {
	Bytes    int64 // bytes scanned (the file size)
	Windows  int   // 1 for a file read whole
	Streamed bool  // scanned in overlapping windows
	// TruncatedStrings lists "rule:$id" of strings that hit the match cap.
	TruncatedStrings []string
	// SlowStrings lists "rule:$id" of strings dropped past StepBudget.
	SlowStrings []string
	// LoopBudgetExceeded is set when a for loop was cut (it evaluated as
	// undefined).
	LoopBudgetExceeded bool
	// MemoryStrings lists "rule:$id" of strings dropped past MaxMemory.
	MemoryStrings []string
	// TimedOut is set when the scan ran out of its Timeout;
	// TimeoutStrings lists "rule:$id" of the strings being matched then.
	TimedOut       bool
	TimeoutStrings []string
}

const (
	// headKeep is how much of a streamed file is kept for uintN reads.
	headKeep          = 1 << 20
	defaultMaxBuffer  = 64 << 20
	defaultOverlap    = 1 << 20
	defaultMaxMatches = 1000000
	defaultMatchData  = 512
	defaultMaxMemory  = 64 << 20
	defaultTimeout    = time.Minute
)

func (o ScanOptions) withDefaults() ScanOptions {
	if o.MaxBuffer <= 0 {
		o.MaxBuffer = defaultMaxBuffer
	}
	if o.Overlap <= 0 {
		o.Overlap = defaultOverlap
	}
	if o.MaxBuffer < 2*8192+2 {
		o.MaxBuffer = 2*8192 + 2
	}
	if o.Overlap > o.MaxBuffer/2 {
		o.Overlap = o.MaxBuffer / 2
	}
	if o.Overlap < 2*(backLimit+fwdLimit) && o.MaxBuffer/2 >= 2*(backLimit+fwdLimit) {
		o.Overlap = 2 * (backLimit + fwdLimit)
	}
	if o.MaxMatchesPerString <= 0 {
		o.MaxMatchesPerString = defaultMaxMatches
	}
	if o.MaxMatchData <= 0 {
		o.MaxMatchData = defaultMatchData
	}
	if o.MaxMemory <= 0 {
		o.MaxMemory = defaultMaxMemory
	}
	if o.Timeout == 0 {
		o.Timeout = defaultTimeout
	}
	return o
}

type rawMatch struct {
	start, length int64
	data          []byte
}

// scanState is the per-scan working memory.
type scanState struct {
	r         *Rules
	opt       ScanOptions
	m         matcher
	matches   [][]rawMatch // per string
	parts     [][]rawMatch // per pattern, for chain parts
	truncated []bool       // per string
	wm        []int64      // per atom: last start tried (absolute)
	steps     []int        // per pattern: matcher steps spent
	disabled  []bool       // per pattern: over budget, no longer tried
	budget    int
	slow      []int // patterns disabled, in order
	// memory kept for matches, and the patterns dropped past MaxMemory
	mem     int64
	memOver []int
	// halted: the deadline passed, nothing more is matched; timeOver
	// lists the patterns being matched then
	halted   bool
	timeOver []int
	// the current window
	in       input
	base     int64 // absolute offset of in.data[0]
	acceptLo int64 // record only matches starting in [acceptLo, acceptHi)
	acceptHi int64
	copyData bool
	arena    []byte
	filesize int64
	head     []byte // the file's first bytes, for uintN when streaming
	readerAt io.ReaderAt
	// gates (see gate): on for a file read whole
	gating   bool
	ruleMode []uint8 // per rule
	seen     []bool  // per string: an atom of it occurred
	deferred []deferred
}

func (r *Rules) getState(opt ScanOptions) *scanState {
	st, _ := r.pool.Get().(*scanState)
	if st == nil {
		st = &scanState{r: r,
			matches:   make([][]rawMatch, len(r.strs)),
			parts:     make([][]rawMatch, len(r.pats)),
			truncated: make([]bool, len(r.strs)),
			wm:        make([]int64, len(r.atoms)),
			steps:     make([]int, len(r.pats)),
			disabled:  make([]bool, len(r.pats)),
			ruleMode:  make([]uint8, len(r.rules)),
			seen:      make([]bool, len(r.strs)),
		}
	}
	st.gating = false
	if cap(st.deferred) > 16<<10 {
		st.deferred = nil
	}
	clear(st.steps)
	clear(st.disabled)
	st.slow = st.slow[:0]
	st.mem, st.memOver, st.halted, st.timeOver = 0, st.memOver[:0], false, st.timeOver[:0]
	st.m.deadline = time.Time{}
	if opt.Timeout > 0 {
		st.m.deadline = time.Now().Add(opt.Timeout)
	}
	st.m.clock = st.m.steps + timeCheckSteps
	st.m.arm(1 << 60) // until a pattern is armed: only the deadline
	st.budget = opt.StepBudget
	// big lists are not kept from scan to scan: their memory is charged
	// to the scan that grows them
	for i := range st.matches {
		st.matches[i] = keepSmall(st.matches[i])
		st.truncated[i] = false
	}
	for i := range st.parts {
		st.parts[i] = keepSmall(st.parts[i])
	}
	for i := range st.wm {
		st.wm[i] = -1 << 62
	}
	st.opt = opt
	st.arena = nil
	st.head = nil
	st.readerAt = nil
	st.copyData = false
	return st
}

func keepSmall(ms []rawMatch) []rawMatch {
	if cap(ms) > 16 {
		return nil
	}
	return ms[:0]
}

func (r *Rules) putState(st *scanState) {
	st.in = input{}
	st.head, st.readerAt, st.arena = nil, nil, nil
	for i := range st.matches {
		clear(st.matches[i]) // drop references to scanned data
	}
	for i := range st.parts {
		clear(st.parts[i])
	}
	r.pool.Put(st)
}

// Scan scans a whole buffer. ext sets string externals for this file
// (names not declared with DefineString are ignored). Offsets and filesize
// are those of data, as with yara.
func (r *Rules) Scan(data []byte, ext map[string]string) ([]Match, error) {
	return r.ScanWithOptions(data, ext, ScanOptions{})
}

// ScanWithOptions is Scan with options (match caps, Info).
func (r *Rules) ScanWithOptions(data []byte, ext map[string]string, opt ScanOptions) ([]Match, error) {
	if r == nil {
		return nil, errors.New("yara: nil rules")
	}
	opt = opt.withDefaults()
	st := r.getState(opt)
	defer r.putState(st)
	st.filesize = int64(len(data))
	st.head = data
	if opt.StepBudget <= 0 {
		st.budget = 64<<20 + 64*len(data)
	}
	if len(data) <= math.MaxInt32 {
		st.startGates(int64(len(data)))
	}
	st.scanWindow(data, 0, true, true, 0, int64(len(data)))
	if opt.Info != nil {
		*opt.Info = ScanInfo{Bytes: int64(len(data)), Windows: 1}
	}
	return r.finish(st, ext)
}

// ScanReader scans a file of the given size (-1 if unknown) read from rd.
// A file of at most opt.MaxBuffer bytes is read whole and scanned exactly
// as Scan does. A bigger one is scanned in windows of MaxBuffer bytes that
// overlap by Overlap: offsets stay those of the whole file, filesize is the
// number of bytes read, each match is found in the one window where it
// starts in the middle part, and a match longer than Overlap/2 may be
// missed. uintN(x) reads rd at x when rd is an io.ReaderAt (an *os.File
// is), else the first MiB of the file; elsewhere it is undefined. Memory
// stays bounded by the window, the match caps and MaxMatchData.
func (r *Rules) ScanReader(rd io.Reader, size int64, ext map[string]string, opt ScanOptions) ([]Match, error) {
	if r == nil {
		return nil, errors.New("yara: nil rules")
	}
	opt = opt.withDefaults()
	w := opt.MaxBuffer
	br, _ := readerPool.Get().(*bufio.Reader)
	if br == nil {
		br = bufio.NewReaderSize(rd, 64<<10)
	} else {
		br.Reset(rd)
	}
	defer func() { br.Reset(nil); readerPool.Put(br) }()
	initial := w
	if size >= 0 && size < w {
		initial = size + 1 // one byte more tells a file that grew
	}
	buf := getBuf(initial)
	defer putBuf(buf)
	n, err := io.ReadFull(br, buf)
	if int64(n) < initial {
		if err != io.EOF && err != io.ErrUnexpectedEOF {
			return nil, err
		}
		return r.ScanWithOptions(buf[:n], ext, opt)
	}
	if initial < w { // bigger than announced: read on up to a window
		nb := getBuf(w)
		defer putBuf(nb)
		copy(nb, buf)
		m, err := io.ReadFull(br, nb[n:])
		n += m
		buf = nb
		if int64(n) < w {
			if err != io.EOF && err != io.ErrUnexpectedEOF {
				return nil, err
			}
			return r.ScanWithOptions(buf[:n], ext, opt)
		}
	}
	if _, err := br.Peek(1); err == io.EOF {
		return r.ScanWithOptions(buf[:n], ext, opt)
	}
	buf = buf[:w]
	st := r.getState(opt)
	defer r.putState(st)
	st.copyData = true
	st.head = append([]byte(nil), buf[:min(n, headKeep)]...)
	if opt.StepBudget <= 0 {
		st.budget = 64<<20 + 64*int(min(size, 1<<40)) // size unknown: the window only
		if size < 0 {
			st.budget = 64<<20 + 64*len(buf)
		}
	}
	if ra, ok := rd.(io.ReaderAt); ok {
		st.readerAt = ra
	}
	overlap := opt.Overlap
	stride := w - overlap
	lead := overlap / 2
	base := int64(0)
	filled := int64(n)
	windows := 0
	for {
		// fill the window
		m, err := io.ReadFull(br, buf[filled:])
		filled += int64(m)
		if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
			return nil, err
		}
		eof := filled < w
		if !eof {
			if _, err := br.Peek(1); err == io.EOF {
				eof = true
			}
		}
		lo := base + lead
		if base == 0 {
			lo = 0
		}
		hi := base + stride + lead
		if eof {
			hi = base + filled
		}
		st.filesize = base + filled // provisional, for anchors only
		st.scanWindow(buf[:filled], base, base == 0, eof, lo, hi)
		windows++
		if eof {
			st.filesize = base + filled
			break
		}
		copy(buf, buf[stride:filled])
		filled -= stride
		base += stride
	}
	if opt.Info != nil {
		*opt.Info = ScanInfo{Bytes: st.filesize, Windows: windows, Streamed: true}
	}
	return r.finish(st, ext)
}

// readAt returns n bytes of the file at off.
func (st *scanState) readAt(off int64, n int) ([]byte, bool) {
	if off < 0 || off+int64(n) > st.filesize || off+int64(n) < off {
		return nil, false
	}
	if off+int64(n) <= int64(len(st.head)) {
		return st.head[off : off+int64(n)], true
	}
	if st.readerAt != nil {
		b := make([]byte, n)
		if m, _ := st.readerAt.ReadAt(b, off); m == n {
			return b, true
		}
	}
	return nil, false
}

// scanWindow runs the automaton over one window and confirms candidates;
// only matches starting in [lo, hi) (absolute) are recorded.
func (st *scanState) scanWindow(data []byte, base int64, bol, eol bool, lo, hi int64) {
	st.in = input{data: data, bol: bol, eol: eol}
	st.base, st.acceptLo, st.acceptHi = base, lo, hi
	r := st.r
	for i := range st.wm {
		st.wm[i] = -1 << 62
	}
	switch {
	case st.gating:
		if len(r.atoms) > 0 {
			r.ac.scan(data, st.gatedHit)
		}
		st.settleGates()
	case len(r.atoms) > 0:
		r.ac.scan(data, st.hit)
	}
	for _, pi := range r.fallback {
		if st.gating && st.ruleMode[r.patRule[pi]] == modeNever {
			continue
		}
		st.scanFallback(pi, max(int(lo-base), 0), min(int(hi-base), len(data)))
	}
}

// scanFallback tries a pattern without atoms at every start in [from, to).
// Runs share visited states until one is cut by its limit (the limit moves
// with the start) or matches.
func (st *scanState) scanFallback(pi, from, to int) {
	p := st.r.pats[pi]
	data := st.in.data
	m := &st.m
	if st.disabled[pi] || st.halted {
		return
	}
	m.session(p.prog, from)
	before := m.steps
	m.arm(st.budget - st.steps[pi])
	for s := from; s < to && !st.disabled[pi]; s++ {
		if !p.prog.first.has(data[s]) {
			continue
		}
		end := m.run(p.prog, &st.in, s, min(len(data), s+fwdLimit), p.wide)
		if m.stop != 0 {
			break
		}
		if end >= 0 {
			st.record(pi, p, s, end)
		}
		if end >= 0 || m.touched {
			m.session(p.prog, s+1)
		}
	}
	m.clear()
	st.spend(pi, m.steps-before)
}

// hit handles one atom occurrence ending at end (window-relative).
func (st *scanState) hit(end int, atom int32) {
	a := &st.r.atoms[atom]
	p := st.r.pats[a.pat]
	atomStart := end - int(a.alen)
	data := st.in.data
	if p.lit != nil {
		s := atomStart - int(a.minPre)
		e := s + len(p.lit)
		if s < 0 || e > len(data) {
			return
		}
		if p.fold {
			if !equalFold(data[s:e], p.lit) {
				return
			}
		} else if !bytes.Equal(data[s:e], p.lit) {
			return
		}
		st.record(int(a.pat), p, s, e)
		return
	}
	lo := atomStart - int(a.maxPre)
	hi := atomStart - int(a.minPre)
	if w := st.wm[atom] - st.base; int64(lo) <= w {
		lo = int(w) + 1
	}
	if lo < 0 {
		lo = 0
	}
	if hi < lo {
		return
	}
	st.wm[atom] = st.base + int64(hi)
	if st.disabled[a.pat] || st.halted {
		return
	}
	limit := min(len(data), atomStart+fwdLimit)
	m := &st.m
	before := m.steps
	m.session(p.prog, lo)
	m.arm(st.budget - st.steps[a.pat])
	for s := lo; s <= hi && !st.disabled[a.pat]; s++ {
		e := m.run(p.prog, &st.in, s, limit, p.wide)
		if m.stop != 0 {
			break
		}
		if e >= 0 {
			st.record(int(a.pat), p, s, e)
			m.session(p.prog, s+1)
		}
	}
	m.clear()
	st.spend(int(a.pat), m.steps-before)
}

// spend charges steps to a pattern and disables it past its budget; a run
// cut by the deadline halts the scan.
func (st *scanState) spend(pi, steps int) {
	st.steps[pi] += steps
	if st.m.stop == stopTime && !st.halted {
		st.halted = true
		st.timeOver = append(st.timeOver, pi)
		st.truncated[st.r.pats[pi].str] = true
	}
	if st.steps[pi] >= st.budget && !st.disabled[pi] {
		st.disabled[pi] = true
		st.truncated[st.r.pats[pi].str] = true
		st.slow = append(st.slow, pi)
	}
}

// charge takes n bytes from the scan's memory budget for pattern pi; past
// the budget the pattern is dropped and charge reports false.
func (st *scanState) charge(pi int, n int64) bool {
	if st.mem+n > st.opt.MaxMemory {
		st.dropForMemory(pi)
		return false
	}
	st.mem += n
	return true
}

func (st *scanState) dropForMemory(pi int) {
	if !st.disabled[pi] {
		st.disabled[pi] = true
		st.memOver = append(st.memOver, pi)
	}
	st.truncated[st.r.pats[pi].str] = true
}

func equalFold(a, b []byte) bool {
	for i := range a {
		if lower(a[i]) != lower(b[i]) {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

// fullwordOK applies YARA's fullword test around data[s:e].
func fullwordOK(data []byte, s, e int, wide bool) bool {
	if wide {
		if s >= 2 && data[s-1] == 0 && isAlnum(data[s-2]) {
			return false
		}
		if e+1 < len(data) && data[e+1] == 0 && isAlnum(data[e]) {
			return false
		}
		return true
	}
	if s >= 1 && isAlnum(data[s-1]) {
		return false
	}
	if e < len(data) && isAlnum(data[e]) {
		return false
	}
	return true
}

// record keeps a confirmed match of pattern pi at data[s:e].
func (st *scanState) record(pi int, p *pattern, s, e int) {
	abs := st.base + int64(s)
	if e <= s { // YARA drops empty matches
		return
	}
	if abs < st.acceptLo || abs >= st.acceptHi {
		return
	}
	if p.fullword && !fullwordOK(st.in.data, s, e, p.wide) {
		return
	}
	var list *[]rawMatch
	if p.part >= 0 {
		list = &st.parts[pi]
	} else {
		if f := st.r.strs[p.str].fixed; f >= 0 && abs != f {
			return // only looked for at f (see cstring.fixed)
		}
		list = &st.matches[p.str]
	}
	if len(*list) >= st.opt.MaxMatchesPerString {
		st.truncated[p.str] = true
		return
	}
	n := min(e-s, st.opt.MaxMatchData)
	// memory is charged as it is allocated: the list's growth, the arena
	if len(*list) == cap(*list) {
		c := max(2*cap(*list), 16)
		if !st.charge(pi, int64(c)*int64(unsafe.Sizeof(rawMatch{}))) {
			return
		}
		nl := make([]rawMatch, len(*list), c)
		copy(nl, *list)
		*list = nl
	}
	d := st.in.data[s : s+n]
	if st.copyData {
		if len(st.arena)+n > cap(st.arena) {
			if !st.charge(pi, int64(max(1<<20, n))) {
				return
			}
			st.arena = make([]byte, 0, max(1<<20, n))
		}
		off := len(st.arena)
		st.arena = append(st.arena, d...)
		d = st.arena[off : off+n : off+n]
	}
	*list = append(*list, rawMatch{start: abs, length: int64(e - s), data: d})
}

// sortDedup orders matches by offset, keeping the first found per offset.
func sortDedup(ms []rawMatch) []rawMatch {
	sorted := true
	for i := 1; i < len(ms); i++ {
		if ms[i].start <= ms[i-1].start {
			sorted = false
			break
		}
	}
	if sorted {
		return ms
	}
	sort.SliceStable(ms, func(i, j int) bool { return ms[i].start < ms[j].start })
	out := ms[:1]
	for _, m := range ms[1:] {
		if m.start != out[len(out)-1].start {
			out = append(out, m)
		}
	}
	return out
}

// chainMatches combines the matches of a chained string's parts: for each
// start of the first part, the earliest end of a chain whose gaps fit.
func (st *scanState) chainMatches(cs *cstring) []rawMatch {
	k := len(cs.parts)
	// the join's tables: a range-minimum table over each part's matches
	// and the chain ends; past the memory budget the string is dropped
	var cost int64
	for _, pi := range cs.parts {
		n := int64(len(st.parts[pi]))
		cost += n * 8 * int64(bits.Len64(uint64(n))+3)
	}
	if cost > 0 && !st.charge(cs.parts[0], cost) {
		return nil
	}
	defer func() { st.mem -= cost }()
	// best[i] for the matches of part i: the earliest chain end from it
	next := sortDedup(st.parts[cs.parts[k-1]])
	bestNext := make([]int64, len(next))
	for i, m := range next {
		bestNext[i] = m.start + m.length
	}
	for pi := k - 2; pi >= 0; pi-- {
		cur := sortDedup(st.parts[cs.parts[pi]])
		rmq := newMinTable(bestNext)
		gap := cs.gaps[pi]
		best := make([]int64, len(cur))
		for i, m := range cur {
			end := m.start + m.length
			from := end + int64(gap[0])
			a := firstAtOrAfter(next, from)
			b := len(next)
			if gap[1] >= 0 {
				b = firstAtOrAfter(next, end+int64(gap[1])+1)
			}
			best[i] = -1
			if a < b {
				best[i] = rmq.min(a, b)
			}
		}
		// keep only the matches of this part that lead to a chain end
		var keep []rawMatch
		var keepBest []int64
		for i, m := range cur {
			if best[i] >= 0 {
				keep = append(keep, m)
				keepBest = append(keepBest, best[i])
			}
		}
		next, bestNext = keep, keepBest
	}
	out := make([]rawMatch, 0, len(next))
	for i, m := range next {
		length := bestNext[i] - m.start
		d := m.data
		if want := min(length, int64(st.opt.MaxMatchData)); int64(len(d)) < want {
			if !st.charge(cs.parts[0], want) {
				break
			}
			d = st.dataAt(m.start, want, d)
		}
		out = append(out, rawMatch{start: m.start, length: length, data: d})
	}
	return out
}

// dataAt returns n bytes at absolute off if still available, else fallback.
func (st *scanState) dataAt(off, n int64, fallback []byte) []byte {
	if b, ok := st.readAt(off, int(n)); ok {
		return b
	}
	rel := off - st.base
	if rel >= 0 && rel+n <= int64(len(st.in.data)) {
		return st.in.data[rel : rel+n]
	}
	return fallback
}

// minTable answers range-minimum queries over a fixed slice.
type minTable struct{ lv [][]int64 }

func newMinTable(v []int64) *minTable {
	t := &minTable{lv: [][]int64{v}}
	for w := 1; 2*w <= len(v); w *= 2 {
		prev := t.lv[len(t.lv)-1]
		cur := make([]int64, len(v)-2*w+1)
		for i := range cur {
			cur[i] = min(prev[i], prev[i+w])
		}
		t.lv = append(t.lv, cur)
	}
	return t
}

// min over [a, b), b > a.
func (t *minTable) min(a, b int) int64 {
	k := 0
	for (2 << k) <= b-a {
		k++
	}
	return min(t.lv[k][a], t.lv[k][b-(1<<k)])
}

// finish completes matches, evaluates conditions and builds the result.
func (r *Rules) finish(st *scanState, ext map[string]string) ([]Match, error) {
	for i, cs := range r.strs {
		if len(cs.parts) > 0 {
			st.matches[i] = st.chainMatches(cs)
		}
		if len(st.matches[i]) > 1 {
			st.matches[i] = sortDedup(st.matches[i])
		}
		if cs.fixed >= 0 {
			ms := st.matches[i]
			j := firstAtOrAfter(ms, cs.fixed)
			if j < len(ms) && ms[j].start == cs.fixed {
				st.matches[i] = append(ms[:0], ms[j])
			} else {
				st.matches[i] = ms[:0]
			}
		}
	}
	exts := make([]value, len(r.exts))
	for i, e := range r.exts {
		exts[i] = e.val
		if v, ok := ext[e.name]; ok && e.val.k == vStr {
			exts[i] = strVal(v)
		}
	}
	c := &evalCtx{r: r, st: st, ext: exts, results: make([]int8, len(r.rules))}
	failedGlobal := map[string]bool{}
	for i, rule := range r.rules {
		c.rule = rule
		c.anon = c.anon[:0]
		c.loops = c.loops[:0]
		if st.gating && st.ruleMode[i] == modeNever {
			// its gate failed: false, as evaluating it would say
			c.results[i] = 2
			if rule.global {
				failedGlobal[rule.ns] = true
			}
		} else if c.eval(rule.cond).truth() {
			c.results[i] = 1
		} else {
			c.results[i] = 2
			if rule.global {
				failedGlobal[rule.ns] = true
			}
		}
	}
	var out []Match
	var truncated []string
	for i, rule := range r.rules {
		for _, s := range rule.strs {
			if st.truncated[s] {
				truncated = append(truncated, rule.name+":"+r.strs[s].id)
			}
		}
		if c.results[i] != 1 || rule.private || failedGlobal[rule.ns] {
			continue
		}
		m := Match{Rule: rule.name, Namespace: rule.ns, Tags: rule.tags}
		if len(rule.meta) > 0 {
			m.Meta = make(map[string]any, len(rule.meta))
			for _, e := range rule.meta {
				m.Meta[e.key] = e.val
			}
		}
		for _, s := range rule.strs {
			cs := r.strs[s]
			if st.truncated[s] {
				m.Truncated = true
			}
			if cs.private {
				continue
			}
			for _, rm := range st.matches[s] {
				d := rm.data
				if !st.copyData {
					d = bytes.Clone(d) // do not pin the caller's buffer
				}
				m.Strings = append(m.Strings, StringMatch{ID: cs.id, Offset: rm.start, Length: rm.length, Data: d})
			}
		}
		out = append(out, m)
	}
	if st.opt.Info != nil {
		name := func(pi int) string {
			cs := r.strs[r.pats[pi].str]
			return r.rules[cs.rule].name + ":" + cs.id
		}
		for _, pi := range st.slow {
			if n := name(pi); !slices.Contains(st.opt.Info.SlowStrings, n) {
				st.opt.Info.SlowStrings = append(st.opt.Info.SlowStrings, n)
			}
		}
		for _, pi := range st.memOver {
			if n := name(pi); !slices.Contains(st.opt.Info.MemoryStrings, n) { // chain parts share a name
				st.opt.Info.MemoryStrings = append(st.opt.Info.MemoryStrings, n)
			}
		}
		st.opt.Info.TimedOut = st.halted
		for _, pi := range st.timeOver {
			st.opt.Info.TimeoutStrings = append(st.opt.Info.TimeoutStrings, name(pi))
		}
		st.opt.Info.TruncatedStrings = truncated
		st.opt.Info.LoopBudgetExceeded = c.over
	}
	return out, nil
}

// String renders a match like yara -s does, for diagnostics.
func (m Match) String() string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s", m.Rule)
	for _, s := range m.Strings {
		fmt.Fprintf(&b, "\n0x%x:%s: %q", s.Offset, s.ID, s.Data)
	}
	return b.String()
}

// readerPool recycles ScanReader's buffered readers: a hunt scans tens of
// thousands of mostly small files, and a fresh 64 KiB buffer for each
// cost more than scanning them.
var readerPool sync.Pool

// bufPool recycles read buffers of ScanReader (files of a hunt come in
// similar sizes); matches never point into them once a scan returns.
var bufPool sync.Pool

func getBuf(n int64) []byte {
	if b, ok := bufPool.Get().(*[]byte); ok && int64(cap(*b)) >= n && int64(cap(*b)) <= 2*n+(1<<20) {
		return (*b)[:n]
	} else if ok {
		bufPool.Put(b)
	}
	return make([]byte, n)
}

func putBuf(b []byte) {
	bufPool.Put(&b)
}

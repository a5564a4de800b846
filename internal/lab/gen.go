package lab

import (
	"cmp"
	"context"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/exhunt/exhunt/internal/exchange"
	"github.com/exhunt/exhunt/internal/finding"
	"github.com/exhunt/exhunt/internal/logs"
)

// gen generates one server. It is used by one goroutine only.
type gen struct {
	ctx      context.Context
	out      string
	idx      int
	scenario string
	rng      *rand.Rand
	budget   int64 // bytes to write, headers and attacks included
	extra    int64 // window extension for large sizes

	name, fqdn, host, ip, pubIP string
	domainDNS, dc               string

	start, end int64 // log window
	downFrom   int64 // no traffic in [downFrom, downTo): patch install
	downTo     int64
	builds     *exchange.Table
	cur        *build
	targetVer  string
	beVer      int
	seen       []*build

	bareHeader bool // HttpProxy files start with a bare column row
	altIIS     bool // the front end's IIS switches to w3cFieldsAlt mid-window
	gz         bool // gzip the oldest files

	streams [nStreams]*stream
	clk     logs.Clock
	buf     []byte // line being formatted
	hbuf    []byte // header being formatted
	info    []byte // GenericInfo being formatted
	tail    []byte // IIS query tail being formatted
	events  evHeap
	seq     uint64
	pool    []*request
	offs    []int64

	users   []*user
	admins  []*user
	health  *user
	oabID   string // the offline address book's GUID
	oabFile string
	usedIPs map[string]bool

	written int64
	first   int64 // first line time
	last    int64 // last line time
	err     error

	winEvents []winEvent // Windows events, written at the end

	findings  []ExpectedFinding
	attackers map[string]bool
	mailboxes map[string]bool
	plants    []plant // files the scenario leaves on disk (files.go)
}

func (g *gen) fail(err error) {
	if g.err == nil {
		g.err = err
	}
}

// Stage shorthands for the expectations below.
const (
	recon   = finding.StageReconnaissance
	attempt = finding.StageAttempt
	exploit = finding.StageExploitation
	persist = finding.StagePersistence
	collect = finding.StageCollection
	execute = finding.StageExecution
)

// Which line of a request an expectation is about.
const (
	logFE = iota
	logProxy
	logBE
	logEWS
	logRps
	logECP
)

type expect struct {
	log   int
	rule  string
	stage finding.Stage
}

// request is one HTTP request and every line it leaves: the front end's
// IIS line, its HttpProxy row, the back end's IIS line, and the EWS,
// remote PowerShell or ECP rows the back end writes for it. All share the
// timestamp t, so each file stays in time order.
type request struct {
	t       int64
	id, id2 guid
	method  string
	stem    string // front-end path (cs-uri-stem, UrlStem)
	query   string // without '?'; "" when none
	user    string // cs-username at the front end
	ip      string
	ua      *agent
	ref     string
	status  int
	win32   int
	taken   int // ms

	fe   bool // write the front-end IIS line
	cafe bool // the front end appends CorrelationID/cafeReqId

	proto                         int // HttpProxy protocol, pNone for none
	host                          string
	clientReqID                   string
	action                        string
	authType, authUser            string
	anchor                        string
	routingType, routingHint      string
	target, targetVer             string // default: this server when proxied
	errCode                       string
	genericExtra, genericErr      string
	feAuth                        int
	reqBytes, respBytes           int
	be                            bool // reaches the back end (W3SVC2 line)
	beStatus                      int
	beStem, beQuery, beUser, beIP string

	ews *ewsRow
	rps *rpsRow
	ecp string // ECP Server EventData

	exp []expect
	bg  bool // background: dropped while the server is down
}

type ewsRow struct{ user, soap string }

type rpsRow struct {
	user, stem, query, clientInfo, action, command string
	session                                        guid
}

func (r *request) expect(log int, rule string, stage finding.Stage) *request {
	r.exp = append(r.exp, expect{log, rule, stage})
	return r
}

// newReq returns a request from this server's pool with the defaults of a
// proxied 200 answered by the back end.
func (g *gen) newReq(t int64, method, stem, query string, proto int) *request {
	var r *request
	if n := len(g.pool); n > 0 {
		r = g.pool[n-1]
		g.pool = g.pool[:n-1]
		*r = request{exp: r.exp[:0]}
	} else {
		r = &request{}
	}
	r.t, r.method, r.stem, r.query, r.proto = t, method, stem, query, proto
	r.id = g.newGUID()
	r.fe, r.cafe, r.bg = true, exchangePath(stem), true
	r.host = g.host
	r.status, r.taken = 200, 5+g.rng.IntN(60)
	r.feAuth = g.beVer
	if proto != pNone {
		r.be, r.beStatus = true, 200
		r.beStem, r.beQuery, r.beIP = stem, query, g.ip
		r.routingType = "IntraForest"
	}
	r.respBytes = 200 + g.rng.IntN(4000)
	return r
}

// exchangePath reports whether the front end's Exchange modules handle
// stem, and so append their correlation ids to the IIS query.
func exchangePath(stem string) bool {
	i := strings.IndexByte(stem[1:], '/')
	if i < 0 {
		return false
	}
	switch strings.ToLower(stem[1 : i+1]) {
	case "owa", "ecp", "ews", "mapi", "autodiscover", "oab", "powershell", "microsoft-server-activesync", "rpc":
		return true
	}
	return false
}

func (g *gen) release(r *request) { g.pool = append(g.pool, r) }

func (g *gen) newGUID() guid {
	var u guid
	a, b := g.rng.Uint64(), g.rng.Uint64()
	for i := range 8 {
		u[i] = byte(a >> (8 * i))
		u[8+i] = byte(b >> (8 * i))
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return u
}

// event is a request or a one-off action (a cmdlet row, an IIS restart)
// due at t; seq keeps equal times in scheduling order.
type event struct {
	t   int64
	seq uint64
	r   *request
	fn  func(t int64)
}

type evHeap []event

func (h evHeap) less(i, j int) bool {
	return h[i].t < h[j].t || h[i].t == h[j].t && h[i].seq < h[j].seq
}

func (h *evHeap) push(e event) {
	*h = append(*h, e)
	s := *h
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if !s.less(i, p) {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
}

func (h *evHeap) pop() event {
	s := *h
	top := s[0]
	n := len(s) - 1
	s[0] = s[n]
	s = s[:n]
	for i := 0; ; {
		l, m := 2*i+1, i
		if l < n && s.less(l, m) {
			m = l
		}
		if l+1 < n && s.less(l+1, m) {
			m = l + 1
		}
		if m == i {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	*h = s
	return top
}

func (g *gen) send(r *request) {
	g.seq++
	g.events.push(event{t: r.t, seq: g.seq, r: r})
}

func (g *gen) at(t int64, fn func(t int64)) {
	g.seq++
	g.events.push(event{t: t, seq: g.seq, fn: fn})
}

// drain emits every event due before t.
func (g *gen) drain(t int64) {
	for len(g.events) > 0 && g.events[0].t < t {
		e := g.events.pop()
		if e.r != nil {
			g.emit(e.r)
		} else {
			e.fn(e.t)
		}
	}
}

func (g *gen) down(t int64) bool { return t >= g.downFrom && t < g.downTo }

// emit writes every line of r and notes the expected findings at the
// exact file and line each went to.
func (g *gen) emit(r *request) {
	if r.bg && (g.down(r.t) || r.t >= g.end) {
		g.release(r)
		return
	}
	if r.fe {
		s := g.streams[stFE]
		rel, n := g.put(s, r.t, g.w3cLine(r, false, s.alt))
		g.note(r, logFE, rel, n, r.ip)
	}
	if r.proto != pNone {
		rel, n := g.put(g.streams[stProxy+r.proto], r.t, g.proxyLine(r))
		g.note(r, logProxy, rel, n, r.ip)
	}
	if r.be {
		rel, n := g.put(g.streams[stBE], r.t, g.w3cLine(r, true, false))
		g.note(r, logBE, rel, n, r.beIP)
	}
	if r.ews != nil {
		rel, n := g.put(g.streams[stEWS], r.t, g.ewsLine(r))
		g.note(r, logEWS, rel, n, r.ip)
	}
	if r.rps != nil {
		rel, n := g.put(g.streams[stRpsHTTP], r.t, g.rpsHTTPLine(r))
		g.note(r, logRps, rel, n, r.ip)
	}
	if r.ecp != "" {
		rel, n := g.put(g.streams[stECP], r.t, g.ecpLine(r.t, r.ecp))
		g.note(r, logECP, rel, n, "")
	}
	g.release(r)
}

func (g *gen) note(r *request, log int, rel string, line int64, ip string) {
	for _, e := range r.exp {
		if e.log == log {
			g.expect(rel, line, e.rule, e.stage, ip)
		}
	}
}

// expect records a finding the hunter must report. The server's own
// addresses (the back end's client is the front end) are not attackers.
func (g *gen) expect(rel string, line int64, rule string, stage finding.Stage, ip string) {
	if rel == "" {
		return
	}
	g.findings = append(g.findings, ExpectedFinding{Rule: rule, File: rel, Line: line, Stage: string(stage)})
	if ip != "" && ip != g.ip && ip != "127.0.0.1" {
		g.attackers[ip] = true
	}
}

// setBuild switches the build the server runs from now on.
func (g *gen) setBuild(b *build) {
	g.cur = b
	g.targetVer = b.targetVersion()
	g.beVer = b.beVersion()
	g.seen = append(g.seen, b)
}

// Diurnal weights of user traffic per UTC hour; health probes are flat.
var hourWeights = [24]float64{
	0.12, 0.1, 0.08, 0.08, 0.1, 0.18, 0.35, 0.7, 1.1, 1.3, 1.35, 1.25,
	1.1, 1.25, 1.35, 1.3, 1.1, 0.8, 0.55, 0.42, 0.35, 0.28, 0.2, 0.15,
}

const probeWeight = 0.15

func userWeight(t int64) float64 {
	w := hourWeights[t%day/hour]
	if wd := (t/day + 4) % 7; wd == 0 || wd == 6 { // 1970-01-01 was a Thursday
		w *= 0.3
	}
	return w
}

// background spreads the byte budget over the window hour by hour. Each
// hour gets the remaining budget times its share of the remaining weight,
// divided by the bytes an activity has cost so far, so the total lands
// close to the budget whatever the mix, header overhead or attack volume.
func (g *gen) background() {
	hours := int((g.end - g.start + hour - 1) / hour)
	weights := make([]float64, hours)
	var rest float64
	for h := range weights {
		weights[h] = probeWeight + userWeight(g.start+int64(h)*hour)
		rest += weights[h]
	}
	starts := 0
	for h := range hours {
		if err := g.ctx.Err(); err != nil {
			g.fail(err)
		}
		if g.err != nil {
			return
		}
		h0 := g.start + int64(h)*hour
		w := weights[h]
		target := float64(g.budget-g.written) * w / rest
		rest -= w
		avg := 2500.0
		if starts >= 40 {
			avg = float64(g.written) / float64(starts)
		}
		want := max(target/avg, 0)
		n := int(want)
		if g.rng.Float64() < want-math.Floor(want) {
			n++
		}
		g.offs = g.offs[:0]
		for range n {
			g.offs = append(g.offs, g.rng.Int64N(hour))
		}
		slices.Sort(g.offs)
		userShare := (w - probeWeight) / w
		for _, off := range g.offs {
			t := h0 + off
			if t >= g.end {
				break
			}
			g.drain(t)
			if g.down(t) {
				continue
			}
			if g.rng.Float64() < userShare {
				g.userActivity(t)
			} else {
				g.probe(t)
			}
			starts++
		}
	}
}

// run generates the server and returns its truth.
func (g *gen) run() (*ServerTruth, error) {
	g.attackers = map[string]bool{}
	g.mailboxes = map[string]bool{}
	g.buf = make([]byte, 0, 4096)
	g.hbuf = make([]byte, 0, 2048)
	g.newStreams()
	g.population()
	g.plan()
	g.chores()
	g.background()
	g.drain(math.MaxInt64)
	for _, s := range g.streams {
		g.closeStream(s)
	}
	g.eventBackground()
	g.writeEventLogs()
	g.plantFiles()
	if g.err == nil && g.gz {
		renamed := g.gzipOldest()
		for i, f := range g.findings {
			if n, ok := renamed[f.File]; ok {
				g.findings[i].File = n
			}
		}
	}
	if g.err != nil {
		return nil, g.err
	}
	return g.truth(), nil
}

func (g *gen) truth() *ServerTruth {
	// Supporting evidence counts once an exploit is known to have reached
	// the server.
	for _, f := range g.findings {
		if !f.Supporting && finding.Stage(f.Stage).Rank() >= finding.StageExploitation.Rank() {
			for i := range g.findings {
				g.findings[i].Supporting = false
			}
			break
		}
	}
	verdict := finding.VerdictClean
	for _, f := range g.findings {
		if v := finding.Stage(f.Stage).Verdict(); v.Rank() > verdict.Rank() && !f.Supporting {
			verdict = v
		}
	}
	st := &ServerTruth{
		Name:         g.name,
		Scenario:     g.scenario,
		Verdict:      string(verdict),
		Inconclusive: len(Exposed(g.seen[0].Fixes, toTime(g.first))) > 0,
		Build:        g.cur.Version,
		BuildsSeen:   []string{},
		Attackers:    sortedKeys(g.attackers),
		Mailboxes:    sortedKeys(g.mailboxes),
		Findings:     append([]ExpectedFinding{}, g.findings...),
	}
	for _, b := range g.seen {
		st.BuildsSeen = append(st.BuildsSeen, b.Version)
	}
	slices.SortFunc(st.Findings, func(a, b ExpectedFinding) int {
		return cmp.Or(strings.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), strings.Compare(a.Rule, b.Rule))
	})
	return st
}

// sortedKeys returns the keys in order, [] rather than nil when empty so
// the JSON says [].
func sortedKeys(m map[string]bool) []string {
	return append([]string{}, slices.Sorted(maps.Keys(m))...)
}

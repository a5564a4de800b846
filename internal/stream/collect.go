package stream

import (
	"cmp"
	"slices"

	"github.com/exhunt/exhunt/internal/finding"
)

// Collector rebuilds a result from a stream, for the outputs that need all
// of it (documents) and for replays. Findings and gaps join their server
// by name, whichever comes first.
type Collector struct {
	res    finding.Result
	server map[string]int
	// ranks are the servers in the order of their server messages, which
	// is the result's order; findings may have added them earlier.
	rank   map[string]int
	closed bool
}

// Handle adds one message to the result.
func (c *Collector) Handle(m *Message) error {
	r := &c.res
	if m.RunID != "" && r.RunID == "" {
		r.RunID = m.RunID
	}
	switch {
	case m.Start != nil:
		r.SchemaVersion = finding.SchemaVersion
		r.Kind, r.Tool, r.Version, r.StartedAt = m.Start.Kind, m.Start.Tool, m.Start.Version, m.Start.StartedAt
		r.Roots = m.Start.Roots
	case m.Finding != nil:
		s := c.serverNamed(m.Finding.Server)
		s.Findings = append(s.Findings, *m.Finding)
	case m.Gap != nil:
		if m.Gap.Server == "" {
			r.Gaps = append(r.Gaps, *m.Gap)
			break
		}
		// inside its server a gap does not repeat the name, as in the
		// result the hunt builds
		s := c.serverNamed(m.Gap.Server)
		g := *m.Gap
		g.Server = ""
		s.Gaps = append(s.Gaps, g)
	case m.Server != nil:
		if c.rank == nil {
			c.rank = map[string]int{}
		}
		if _, ok := c.rank[m.Server.Name]; !ok {
			c.rank[m.Server.Name] = len(c.rank)
		}
		s := c.serverNamed(m.Server.Name)
		fs, gs := s.Findings, s.Gaps
		*s = *m.Server
		s.Findings, s.Gaps = joined(fs, m.Server.Findings), joined(gs, m.Server.Gaps)
	case m.Target != nil:
		r.Kind = cmpOr(r.Kind, finding.KindScan)
		r.Targets = append(r.Targets, *m.Target)
	case m.Run != nil:
		servers, targets, gaps, kind := r.Servers, r.Targets, r.Gaps, r.Kind
		*r = *m.Run
		r.RunID = cmpOr(r.RunID, m.RunID)
		r.Kind = cmpOr(r.Kind, kind)
		r.Servers = append(servers, m.Run.Servers...)
		r.Targets = append(targets, m.Run.Targets...)
		r.Gaps = append(gaps, m.Run.Gaps...)
		c.closed = true
	}
	return nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// serverNamed returns the server of that name, added if new.
func (c *Collector) serverNamed(name string) *finding.Server {
	if c.server == nil {
		c.server = map[string]int{}
	}
	i, ok := c.server[name]
	if !ok {
		i = len(c.res.Servers)
		c.res.Servers = append(c.res.Servers, finding.Server{Name: name})
		c.server[name] = i
	}
	return &c.res.Servers[i]
}

// Closed reports whether the closing run message has been seen.
func (c *Collector) Closed() bool { return c.closed }

// Result is the result collected so far. Its schema version is set even
// when the stream had no start message.
func (c *Collector) Result() *finding.Result {
	c.res.SchemaVersion = finding.SchemaVersion
	if len(c.rank) > 0 {
		rank := func(s *finding.Server) int {
			if r, ok := c.rank[s.Name]; ok {
				return r
			}
			return len(c.rank) // after the announced ones, in first-seen order
		}
		slices.SortStableFunc(c.res.Servers, func(a, b finding.Server) int { return cmp.Compare(rank(&a), rank(&b)) })
		for i := range c.res.Servers {
			c.server[c.res.Servers[i].Name] = i
		}
	}
	if c.res.Kind == "" {
		c.res.Kind = finding.KindHunt
	}
	return &c.res
}

// joined appends b to a; an empty b that is not nil keeps the result
// non-nil, so a server with no findings replays as "findings": [].
func joined[T any](a, b []T) []T {
	if a == nil && b != nil {
		return b
	}
	return append(a, b...)
}

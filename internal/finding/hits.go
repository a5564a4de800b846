package finding

// Hit is one finding with the server it belongs to, for the flat outputs
// (CSV, SARIF) that list findings across servers.
type Hit struct {
	Server  *Server
	Finding *Finding
}

// Hits lists every server's findings, servers in order.
func (r *Result) Hits() []Hit {
	var hits []Hit
	for i := range r.Servers {
		s := &r.Servers[i]
		for j := range s.Findings {
			hits = append(hits, Hit{s, &s.Findings[j]})
		}
	}
	return hits
}

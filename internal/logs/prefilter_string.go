package logs

// ContainsString reports whether s holds any of the literals (ASCII case
// ignored). It is the check rules make on one field value.
func (p *Prefilter) ContainsString(s string) bool {
	return !p.empty && index1(p, s) >= 0
}

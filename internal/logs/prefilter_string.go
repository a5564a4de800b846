package logs

// ContainsString reports whether s holds any of the literals (ASCII case
// ignored). It is the check rules make on one field value.
func (p *Prefilter) ContainsString(s string) bool {
	if p.empty {
		return false
	}
	trans, class, matchAt := p.abs, &p.class, p.matchAt
	st := uint32(0)
	for i := 0; i < len(s); i++ {
		st = trans[st+uint32(class[s[i]])]
		if st >= matchAt {
			return true
		}
	}
	return false
}

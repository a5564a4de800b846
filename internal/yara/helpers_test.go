package yara

import "testing"

// mustCompile compiles src (with the oracle externals declared) and fails
// on any problem.
func mustCompile(t testing.TB, src string) *Rules {
	t.Helper()
	c := NewCompiler()
	for _, e := range externalNames {
		c.DefineString(e, "")
	}
	if probs := c.Add("test.yar", []byte(src)); len(probs) > 0 {
		t.Fatalf("problems: %v", probs)
	}
	r, probs := c.Rules()
	if r == nil {
		t.Fatalf("rules: %v", probs)
	}
	return r
}

// matched returns the names of the rules that match data.
func matched(t testing.TB, r *Rules, data string, ext map[string]string) map[string]bool {
	t.Helper()
	ms, err := r.Scan([]byte(data), ext)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, m := range ms {
		out[m.Rule] = true
	}
	return out
}

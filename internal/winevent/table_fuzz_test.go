package winevent

import (
	"strings"
	"testing"
)

// FuzzParseTable: a site's logsource table is user input; no table
// panics, and one that loads has what the loader promises.
func FuzzParseTable(f *testing.F) {
	f.Add(string(defaultTableYAML))
	f.Add("- category: process_creation\n  product: windows\n  events:\n    - channel: Security\n      event_ids: [4688]\n      fields: {Image: NewProcessName}\n")
	f.Add("- service: x\n  logs: [iis]\n")
	f.Add("- category: a\n  events: [{channel: ''}]\n")
	f.Add("&a [*a, *a, *a]")
	f.Fuzz(func(t *testing.T, data string) {
		tbl, err := ParseTable([]byte(data))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "logsource table") {
				t.Fatalf("error without context: %v", err)
			}
			return
		}
		for _, m := range tbl {
			if m.Category == "" && m.Service == "" || len(m.Events) == 0 && len(m.Logs) == 0 {
				t.Fatalf("entry accepted without selector or source: %+v", m)
			}
			for _, e := range m.Events {
				if e.Channel == "" {
					t.Fatalf("event source without channel: %+v", m)
				}
				for k, v := range e.Fields {
					if got, ok := e.Rename(strings.ToUpper(k)); !ok || got != v && !hasFoldDup(e.Fields, k) {
						t.Fatalf("rename(%q) = %q %v, want %q", k, got, ok, v)
					}
				}
			}
		}
	})
}

// hasFoldDup reports keys that differ only in case (the last one wins).
func hasFoldDup(m map[string]string, k string) bool {
	for o := range m {
		if o != k && strings.EqualFold(o, k) {
			return true
		}
	}
	return false
}

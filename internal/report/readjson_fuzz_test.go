package report

import (
	"bytes"
	"strconv"
	"strings"
	"testing"

	"github.com/exhunt/exhunt/internal/finding"
)

// FuzzReadJSON: a saved result is read back from whatever was saved (or
// handed over): no input panics, an error names the problem, and what is
// read renders again.
func FuzzReadJSON(f *testing.F) {
	f.Add([]byte(`{"schema_version":` + strconv.Itoa(finding.SchemaVersion) + `,"tool":"exhunt","servers":[{"name":"SRV1","verdict":"exploited","findings":[{"rule":"x","stage":"execution","time":"2021-03-03T00:00:00Z","source":{"file":"a.log","line":3}}]}]}`))
	f.Add([]byte(`{"schema_version":1}`))
	f.Add([]byte(`{"schema_version":` + strconv.Itoa(finding.SchemaVersion) + `,"servers":[{"gaps":[{"file":"\u001b]0;x\u0007","reason":"r"}]}]}`))
	f.Add([]byte(`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ReadJSON(bytes.NewReader(data))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "read result: ") {
				t.Fatalf("error without context: %v", err)
			}
			return
		}
		if r.SchemaVersion != finding.SchemaVersion {
			t.Fatalf("schema %d accepted", r.SchemaVersion)
		}
		var buf bytes.Buffer
		if err := JSON(&buf, r); err != nil {
			t.Fatalf("re-render: %v", err)
		}
		if _, err := ReadJSON(&buf); err != nil {
			t.Fatalf("what was read does not read back: %v", err)
		}
	})
}

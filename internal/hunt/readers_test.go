package hunt

import (
	"testing"

	"github.com/exhunt/exhunt/internal/evidence"
	"github.com/exhunt/exhunt/internal/rule"
)

// Every kind of evidence discovery names has exactly one reader, and the
// text logs among them are the kinds rules can name.
func TestReaders(t *testing.T) {
	kinds := []evidence.Kind{evidence.HTTPProxy, evidence.ECPServer, evidence.ECPActivity, evidence.OABGen,
		evidence.RpsHTTP, evidence.RpsCmdlet, evidence.EWS, evidence.IIS, evidence.EVTX, evidence.HostFile, evidence.Msert}
	for _, k := range kinds {
		n := 0
		for _, r := range readers {
			if r.reads(k) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("kind %q: %d readers, want 1", k, n)
		}
		if (logTextReader{}).reads(k) {
			found := false
			for _, l := range rule.KnownLogsources {
				found = found || l == string(k)
			}
			if !found {
				t.Errorf("log kind %q: no rule can name it", k)
			}
		}
	}
	if (eventLogReader{}).reads(evidence.IIS) || (logTextReader{}).reads(evidence.EVTX) || (hostFileReader{}).reads(evidence.EVTX) {
		t.Error("a reader takes another reader's kind")
	}
}

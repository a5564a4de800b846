package report

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/exhunt/exhunt/internal/finding"
)

func TestSARIFCarriesRemediation(t *testing.T) {
	r := &finding.Result{SchemaVersion: finding.SchemaVersion, Tool: "exhunt", Roots: []string{"/evidence"}, Servers: []finding.Server{{
		Name: "EXCH01", Verdict: finding.VerdictCompromised, UnusableClientAddresses: 2,
		Remediation: []finding.Action{{Step: finding.StepPatch, Urgency: "immediate", Title: "Install the update for this build",
			Items:    []finding.ActionItem{{Kind: "update", Name: "Exchange 2016 CU23 Nov22SU", Value: "install: build 15.1.2507.16"}},
			Reason:   finding.Reason{Facts: []string{"build 15.1.2507.6: proxynotshell vulnerable"}},
			Guidance: "patch-update", Sources: []string{"Microsoft, “Exchange Server build numbers and release dates”, 2025-07-01"}}},
	}}}
	var b bytes.Buffer
	if err := SARIF(&b, r, nil); err != nil {
		t.Fatal(err)
	}
	validateSARIF(t, b.Bytes())
	var doc struct {
		Runs []struct {
			Properties struct {
				Servers []struct {
					Name        string           `json:"name"`
					Remediation []finding.Action `json:"remediation"`
					Unusable    int64            `json:"unusable_client_addresses"`
				} `json:"servers"`
			} `json:"properties"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	s := doc.Runs[0].Properties.Servers[0]
	if len(s.Remediation) != 1 || s.Remediation[0].Items[0].Name != "Exchange 2016 CU23 Nov22SU" || s.Unusable != 2 {
		t.Errorf("server properties %+v", s)
	}
}

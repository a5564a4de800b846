package remedy_test

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/exhunt/exhunt/internal/remedy"
	"github.com/exhunt/exhunt/rules"
)

const goodEntry = `id: webshells
step: preserve
urgency: high
when:
  findings: [file-nonstandard-script, "yara:*"]
items: files
title: Copy the web shells, then delete them
text: Copy each file to evidence storage, then delete it.
sources:
  - publisher: Microsoft
    title: HAFNIUM targeting Exchange Servers with 0-day exploits
    date: 2021-03-02
`

func known(id string) bool {
	return id == "file-nonstandard-script" || id == "yara:*" || id == "lsass-memory-dump"
}

func TestParseRejects(t *testing.T) {
	if _, err := remedy.Parse("rules/remediation/webshells.yaml", []byte(goodEntry), known); err != nil {
		t.Fatalf("good entry rejected: %v", err)
	}
	for _, tc := range []struct {
		name, edit, want string
	}{
		{"unknown key", goodEntry + "severity: high\n", "field severity not found"},
		{"unknown finding", strings.Replace(goodEntry, "file-nonstandard-script", "file-nonstandard-scripts", 1), `"file-nonstandard-scripts" is not a finding`},
		{"unknown prefix", strings.Replace(goodEntry, `"yara:*"`, `"sigma:*"`, 1), `"sigma:*" is not a finding`},
		{"no sources", goodEntry[:strings.Index(goodEntry, "sources:")], "at least one document"},
		{"undated source", strings.Replace(goodEntry, "2021-03-02", "March 2021", 1), "not YYYY-MM-DD"},
		{"id differs", strings.Replace(goodEntry, "id: webshells", "id: shells", 1), "differs from the file name"},
		{"unknown step", strings.Replace(goodEntry, "step: preserve", "step: pray", 1), `step "pray"`},
		{"unknown items", strings.Replace(goodEntry, "items: files", "items: hashes", 1), `items "hashes"`},
		{"unknown chain", strings.Replace(goodEntry, "  findings: [file-nonstandard-script, \"yara:*\"]", "  chain: proxyshel", 1), `unknown chain "proxyshel"`},
		{"unknown condition", strings.Replace(goodEntry, "  findings: [file-nonstandard-script, \"yara:*\"]", "  condition: sometimes", 1), `condition "sometimes"`},
		{"no when", strings.Replace(goodEntry, "  findings: [file-nonstandard-script, \"yara:*\"]", "  verdicts: []", 1), "names no finding"},
		{"bypassable without warning", goodEntry + "bypassable: true\n", "needs a warning"},
	} {
		_, err := remedy.Parse("rules/remediation/webshells.yaml", []byte(tc.edit), known)
		if err == nil {
			t.Errorf("%s: accepted", tc.name)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "rules/remediation/webshells.yaml") {
			t.Errorf("%s: error %q, want the file named and %q", tc.name, err, tc.want)
		}
	}
}

func TestLoadNamesEveryBadFile(t *testing.T) {
	fsys := fstest.MapFS{
		"remediation/webshells.yaml": {Data: []byte(goodEntry)},
		"remediation/bad-one.yaml":   {Data: []byte(strings.Replace(goodEntry, "id: webshells", "id: bad-one\nfoo: 1", 1))},
		"remediation/bad-two.yaml":   {Data: []byte(strings.Replace(goodEntry, "id: webshells", "id: bad-two", 1)[:50])},
	}
	_, err := remedy.Load(fsys, "remediation", known)
	if err == nil {
		t.Fatal("bad guidance loaded")
	}
	for _, f := range []string{"bad-one.yaml", "bad-two.yaml"} {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("error does not name %s: %v", f, err)
		}
	}
	if _, err := remedy.Load(fstest.MapFS{}, "remediation", known); err == nil {
		t.Error("empty guidance folder loaded")
	}
}

// TestShippedGuidance checks the shipped entries against the catalog: it
// loads (every finding named exists), and each chain has a mitigation
// entry citing a source.
func TestShippedGuidance(t *testing.T) {
	cat := loadCatalog(t)
	chains := map[string]bool{}
	for _, e := range cat.Remediation.Entries {
		if e.When.Chain != "" {
			chains[e.When.Chain] = true
		}
	}
	for _, c := range []string{"proxylogon", "proxyshell", "proxynotshell", "owassrf"} {
		if !chains[c] {
			t.Errorf("no guidance for chain %s", c)
		}
	}
	names, _ := rules.FS.ReadDir("remediation")
	if len(names) != len(cat.Remediation.Entries) {
		t.Errorf("%d files, %d entries", len(names), len(cat.Remediation.Entries))
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(goodEntry))
	f.Add([]byte("id: x\nwhen: {findings: [\"*\"]}\nsources: [{date: 2021-13-40}]\n"))
	f.Add([]byte("- [\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := remedy.Parse("rules/remediation/x.yaml", data, known)
		if err == nil && (e == nil || len(e.Sources) == 0 || e.ID != "x") {
			t.Fatalf("accepted an entry without id or sources: %+v", e)
		}
	})
}

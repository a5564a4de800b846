package catalog

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/exhunt/exhunt/rules"
)

// copyTree writes the embedded rules to a folder, as the repository's
// rules/ holds them.
func copyTree(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	err := fs.WalkDir(rules.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := rules.FS.ReadFile(p)
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		return os.WriteFile(dst, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// The repository's rules/ validates as the rules tree it is, not as a
// folder of exhunt rules: its guidance and stage files are not rules, and
// its rules are not a second copy of the built-in ones.
func TestValidateRulesTree(t *testing.T) {
	checked, err := Validate([]string{"../../rules"})
	if err != nil {
		t.Fatal(err)
	}
	if len(checked) != 2 || checked[1].Source != "../../rules" {
		t.Fatalf("checked %d sets, want the built-in rules and the tree", len(checked))
	}
	in, tree := checked[0].Catalog, checked[1].Catalog
	if len(tree.Rules) != len(in.Rules) || len(tree.Sigma.Rules) != len(in.Sigma.Rules) || tree.Files.Stats() != in.Files.Stats() {
		t.Errorf("the tree loads %d rules, %d Sigma, %+v; built in %d, %d, %+v",
			len(tree.Rules), len(tree.Sigma.Rules), tree.Files.Stats(), len(in.Rules), len(in.Sigma.Rules), in.Files.Stats())
	}
	// the skipped Sigma rules are named under the tree, with why
	if len(checked[1].Skipped) != len(checked[0].Skipped) {
		t.Fatalf("skipped: tree %v, built in %v", checked[1].Skipped, checked[0].Skipped)
	}
	for _, s := range checked[1].Skipped {
		if !strings.HasPrefix(s.File, "../../rules/sigma/") || s.Reason == "" || s.Given {
			t.Errorf("skipped %s", s)
		}
	}
}

// A folder of a tree holds the tree's data files beside its rules
// (yara/stages.yaml, aspx/aspx.yaml): it is checked as part of its tree,
// once however many of its folders are named.
func TestValidateFolderOfTree(t *testing.T) {
	checked, err := Validate([]string{"../../rules/yara", "../../rules/aspx", "../../rules"})
	if err != nil {
		t.Fatal(err)
	}
	if len(checked) != 2 || filepath.Clean(checked[1].Source) != filepath.Clean("../../rules") {
		var got []string
		for _, c := range checked {
			got = append(got, c.Source)
		}
		t.Fatalf("checked %q, want the built-in rules and the tree ../../rules", got)
	}
}

// A shipped YARA rule the hunt skips for an unsupported feature is listed
// with its file, line and reason and does not fail the validation; the
// same rule given by the user does.
func TestValidateSkippedShippedYara(t *testing.T) {
	dir := copyTree(t)
	const src = "import \"pe\"\n\nrule needs_pe {\n  condition: pe.number_of_sections > 1\n}\n"
	if err := os.WriteFile(filepath.Join(dir, "yara", "exhunt", "pe.yar"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	checked, err := Validate([]string{dir})
	if err != nil {
		t.Fatalf("a shipped rule the hunt skips fails the validation: %v", err)
	}
	found := false
	for _, s := range checked[1].Skipped {
		if strings.HasSuffix(s.File, "yara/exhunt/pe.yar") && s.Line > 0 && s.Rule == "needs_pe" && strings.Contains(s.Reason, "pe") {
			found = true
		}
	}
	if !found {
		t.Errorf("the skipped rule is not listed: %v", checked[1].Skipped)
	}
	user := filepath.Join(t.TempDir(), "pe.yar")
	os.WriteFile(user, []byte(src), 0o644)
	if _, err := Validate([]string{user}); err == nil || !strings.Contains(err.Error(), user+":3") {
		t.Errorf("a given rule that does not load: %v", err)
	}
}

// A broken exhunt rule in a tree fails the validation with its file.
func TestValidateTreeWithBrokenRule(t *testing.T) {
	dir := copyTree(t)
	bad := filepath.Join(dir, "hunt", "bad-rule.yaml")
	if err := os.WriteFile(bad, []byte("id: bad-rule\ntitle: x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Validate([]string{dir}); err == nil || !strings.Contains(err.Error(), "hunt/bad-rule.yaml") {
		t.Errorf("broken rule in a tree: %v", err)
	}
}

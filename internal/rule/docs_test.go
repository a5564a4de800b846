package rule

import (
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/exhunt/exhunt/internal/detect"
	"github.com/exhunt/exhunt/internal/finding"
)

var update = flag.Bool("update", false, "rewrite docs/rule-schema.md from the rule schema")

const schemaDoc = "../../docs/rule-schema.md"

// TestRuleSchemaDoc keeps docs/rule-schema.md generated from the doc
// comments of the rule structs: run `go test ./internal/rule -update` after
// changing the schema.
func TestRuleSchemaDoc(t *testing.T) {
	got := generateSchemaDoc(t)
	if *update {
		if err := os.WriteFile(schemaDoc, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(schemaDoc)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/rule -update)", err)
	}
	if string(want) != got {
		t.Fatalf("%s is out of date: run go test ./internal/rule -update", schemaDoc)
	}
}

func generateSchemaDoc(t *testing.T) string {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "rule.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("# Rule schema reference\n\n")
	b.WriteString("Generated from the doc comments of `internal/rule/rule.go` by `go test ./internal/rule -update`; do not edit.\n")
	b.WriteString("The guide to writing rules is [rules.md](rules.md).\n")
	for _, name := range []string{"Rule", "Outcome", "Extract"} {
		st := findStruct(f, name)
		if st == nil {
			t.Fatalf("struct %s not found", name)
		}
		fmt.Fprintf(&b, "\n## %s\n\n| key | type | meaning |\n| --- | --- | --- |\n", name)
		for _, fld := range st.Fields.List {
			if fld.Tag == nil || len(fld.Names) == 0 {
				continue
			}
			tag := reflect.StructTag(strings.Trim(fld.Tag.Value, "`")).Get("yaml")
			key := strings.Split(tag, ",")[0]
			doc := strings.Join(strings.Fields(fld.Doc.Text()), " ")
			fmt.Fprintf(&b, "| `%s` | %s | %s |\n", key, typeString(fld.Type), strings.ReplaceAll(doc, "|", "\\|"))
		}
	}
	list := func(title string, vals []string) {
		fmt.Fprintf(&b, "\n## %s\n\n", title)
		for _, v := range vals {
			fmt.Fprintf(&b, "- `%s`\n", v)
		}
	}
	var stages, sevs []string
	for _, s := range []finding.Stage{finding.StageReconnaissance, finding.StageAttempt, finding.StageExploitation, finding.StagePersistence, finding.StageCollection, finding.StageExecution} {
		stages = append(stages, fmt.Sprintf("%s (verdict at least %s)", s, s.Verdict()))
	}
	for _, s := range []finding.Severity{finding.SeverityInfo, finding.SeverityLow, finding.SeverityMedium, finding.SeverityHigh, finding.SeverityCritical} {
		sevs = append(sevs, string(s))
	}
	list("Stages", stages)
	list("Severities", sevs)
	list("Log sources", KnownLogsources)
	list("Chains", knownChains[1:])
	list("Field modifiers", detect.ExhuntModifiers)
	return b.String()
}

func findStruct(f *ast.File, name string) *ast.StructType {
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok {
			continue
		}
		for _, s := range g.Specs {
			if ts, ok := s.(*ast.TypeSpec); ok && ts.Name.Name == name {
				st, _ := ts.Type.(*ast.StructType)
				return st
			}
		}
	}
	return nil
}

func typeString(e ast.Expr) string {
	switch x := e.(type) {
	case *ast.Ident:
		return x.Name
	case *ast.ArrayType:
		return "list of " + typeString(x.Elt)
	case *ast.MapType:
		return "map of " + typeString(x.Key) + " to " + typeString(x.Value)
	case *ast.SelectorExpr:
		switch x.Sel.Name {
		case "Node":
			return "YAML"
		}
		return strings.ToLower(x.Sel.Name)
	}
	return "?"
}

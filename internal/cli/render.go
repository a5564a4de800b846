package cli

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/exhunt/exhunt/internal/catalog"
	"github.com/exhunt/exhunt/internal/report"
	"github.com/exhunt/exhunt/internal/visible"
)

// formats every command that writes a result accepts; jsonl streams and is
// only for hunt.
var formats = report.Formats

func checkFormat(f string, allowJSONL bool) error {
	if !slices.Contains(formats, f) || (f == "jsonl" && !allowJSONL) {
		ok := formats
		if !allowJSONL {
			ok = slices.DeleteFunc(slices.Clone(formats), func(s string) bool { return s == "jsonl" })
		}
		return usageError(fmt.Sprintf("unknown format %q", f), fmt.Sprintf("use one of %v", ok))
	}
	return nil
}

func reportOptions(cat *catalog.Catalog, verbose bool) report.Options {
	opt := report.Options{Verbose: verbose}
	if cat != nil {
		opt.Rules = cat.Docs()
	}
	return opt
}

// warn prints an "exhunt: warning:" line; its text often names evidence
// files, so it is shown visibly.
func warn(stderr io.Writer, format string, args ...any) {
	fmt.Fprintf(stderr, "exhunt: warning: %s\n", visible.String(fmt.Sprintf(format, args...)))
}

// shownLines shows each line of a message visibly: errors name evidence
// files and rules, and some span lines on purpose.
func shownLines(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = visible.String(l)
	}
	return strings.Join(lines, "\n")
}

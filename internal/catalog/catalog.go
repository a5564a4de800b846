// Package catalog loads exhunt's rules and reference data: the embedded rule
// files, extra rule folders given by the user, named value lists and the
// Exchange build table. Rules are validated and compiled once, at load.
package catalog

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/exhunt/exhunt/internal/exchange"
	"github.com/exhunt/exhunt/internal/files"
	"github.com/exhunt/exhunt/internal/remedy"
	"github.com/exhunt/exhunt/internal/rule"
	"github.com/exhunt/exhunt/internal/sigma"
	"github.com/exhunt/exhunt/rules"
)

// Catalog is the loaded rule set.
type Catalog struct {
	Rules  []*rule.Compiled
	Env    *rule.Env
	Builds *exchange.Table
	// Sigma holds the shipped SigmaHQ rules and any added with LoadSigma;
	// Sigma.Skipped lists those that need features exhunt lacks, with why.
	Sigma *sigma.Set
	// Files are the file hunt's YARA rules and IOC lists, with any YARA
	// rules added with LoadYara; Files.Problems lists skipped rules.
	Files *files.Rules
	// Remediation is the guidance remediation plans are drawn from.
	Remediation *remedy.Guidance
	// fsys is the rules tree the catalog was read from
	fsys fs.FS
}

// LoadError collects every problem found in rule files, each naming its file.
type LoadError struct{ Errs []error }

func (e *LoadError) Error() string {
	var b strings.Builder
	for i, err := range e.Errs {
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString(err.Error())
	}
	return b.String()
}

func (e *LoadError) Unwrap() []error { return e.Errs }

// Data is the reference data without the rules: what the scanner, the
// decoy and the lab need, loaded without compiling a rule.
type Data struct {
	Builds *exchange.Table
	// Lists are the named value lists of rules/lists, plus
	// "webshell-url-paths": the URL paths of Microsoft's IOC feed and of
	// the known shell names in the campaign's web folders.
	Lists map[string][]string
}

// WebshellURLPaths are the URL paths under which known web shells answer,
// such as /owa/auth/shel.aspx.
func (d *Data) WebshellURLPaths() []string { return d.Lists["webshell-url-paths"] }

// LoadData reads the embedded build table, lists and IOC feed.
func LoadData() (*Data, error) {
	d := &Data{Lists: map[string][]string{}}
	if err := d.load(rules.FS); err != nil {
		return nil, err
	}
	return d, nil
}

// Load reads the embedded rules plus any extra rule files or folders. Extra
// rules may add to the built-in set but not replace a built-in id.
func Load(extra ...string) (*Catalog, error) {
	return loadFS(rules.FS, "rules/", extra...)
}

// loadFS reads a rules tree laid out as the embedded one (see package
// rules), whose files are named in messages under prefix, plus extra rule
// files or folders.
func loadFS(fsys fs.FS, prefix string, extra ...string) (*Catalog, error) {
	d := &Data{Lists: map[string][]string{}}
	if err := d.load(fsys); err != nil {
		return nil, err
	}
	c := &Catalog{Env: &rule.Env{Lists: d.Lists}, Builds: d.Builds, fsys: fsys}
	var errs []error
	seen := map[string]string{}
	add := func(name string, data []byte) {
		r, err := rule.Parse(data)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			return
		}
		if err := r.Validate(name); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			return
		}
		if prev, dup := seen[r.ID]; dup {
			errs = append(errs, fmt.Errorf("%s: id %q is already defined by %s", name, r.ID, prev))
			return
		}
		cr, err := r.Compile(c.Env)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			return
		}
		if err := c.checkPrefilterLists(r); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			return
		}
		seen[r.ID] = name
		c.Rules = append(c.Rules, cr)
	}
	builtin, _ := fs.Glob(fsys, "hunt/*.yaml")
	for _, name := range builtin {
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		add(prefix+name, data)
	}
	for _, p := range extra {
		files, err := ruleFiles(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			add(f, data)
		}
	}
	sort.Slice(c.Rules, func(i, j int) bool { return c.Rules[i].Rule.ID < c.Rules[j].Rule.ID })
	sub, err := fs.Sub(fsys, "sigma")
	if err != nil {
		return nil, err
	}
	if c.Sigma, err = sigma.LoadFS(sub, ".", nil); err != nil {
		return nil, fmt.Errorf("sigma rules: %w", err)
	}
	for i := range c.Sigma.Skipped {
		c.Sigma.Skipped[i].Path = prefix + "sigma/" + c.Sigma.Skipped[i].Path
	}
	if c.Files, err = files.Load(fsys, nil); err != nil {
		return nil, fmt.Errorf("file hunt rules: %w", err)
	}
	if err := c.loadRemediation(fsys); err != nil {
		return nil, err
	}
	if len(errs) > 0 {
		return c, &LoadError{errs}
	}
	return c, nil
}

// loadRemediation reads rules/remediation, checking that every finding it
// names is one a rule of this catalog reports ("yara:*" names a prefix).
func (c *Catalog) loadRemediation(fsys fs.FS) error {
	ids := map[string]bool{}
	for _, d := range c.Docs() {
		ids[d.ID] = true
		if i := strings.IndexByte(d.ID, ':'); i > 0 {
			ids[d.ID[:i+1]+"*"] = true
		}
	}
	g, err := remedy.Load(fsys, "remediation", func(id string) bool { return ids[id] })
	if err != nil {
		return fmt.Errorf("remediation guidance: %w", err)
	}
	c.Remediation = g
	return nil
}

func ruleFiles(p string) ([]string, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	if !st.IsDir() {
		return []string{p}, nil
	}
	var files []string
	err = filepath.WalkDir(p, func(f string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(f, ".yaml") {
			files = append(files, f)
		}
		return nil
	})
	return files, err
}

func (c *Catalog) checkPrefilterLists(r *rule.Rule) error {
	for _, l := range r.PrefilterLists {
		if c.Env.Lists[l] == nil {
			return fmt.Errorf("prefilter_lists: list %q is not defined", l)
		}
	}
	return nil
}

// Prefilter returns the literals of rules reading kind, and whether some rule
// needs every line of it.
func (c *Catalog) Prefilter(kind string) (lits []string, all bool) {
	seen := map[string]bool{}
	for _, cr := range c.ForKind(kind) {
		r := cr.Rule
		if len(r.Prefilter) == 0 && len(r.PrefilterLists) == 0 {
			all = true
		}
		for _, l := range r.Prefilter {
			if !seen[strings.ToLower(l)] {
				seen[strings.ToLower(l)] = true
				lits = append(lits, l)
			}
		}
		for _, name := range r.PrefilterLists {
			for _, l := range c.Env.Lists[name] {
				if !seen[strings.ToLower(l)] {
					seen[strings.ToLower(l)] = true
					lits = append(lits, l)
				}
			}
		}
	}
	return lits, all
}

// Literals returns one rule's prefilter literals, lists expanded; empty
// means the rule reads every line.
func (c *Catalog) Literals(cr *rule.Compiled) []string {
	lits := append([]string(nil), cr.Rule.Prefilter...)
	for _, name := range cr.Rule.PrefilterLists {
		lits = append(lits, c.Env.Lists[name]...)
	}
	return lits
}

// CompactLiterals is Literals reduced to a set that selects at least the
// same lines, for a smaller automaton: a list of URL paths becomes their
// folders, and a literal that contains another of the same rule is dropped
// (any line holding it holds the shorter one too).
func (c *Catalog) CompactLiterals(cr *rule.Compiled) []string {
	lits := append([]string(nil), cr.Rule.Prefilter...)
	for _, name := range cr.Rule.PrefilterLists {
		for _, v := range c.Env.Lists[name] {
			if i := strings.LastIndexByte(v, '/'); i >= 4 {
				v = v[:i+1]
			}
			lits = append(lits, v)
		}
	}
	return reduceLiterals(lits)
}

func reduceLiterals(lits []string) []string {
	low := make([]string, len(lits))
	for i, l := range lits {
		low[i] = strings.ToLower(l)
	}
	var out []string
	for i, l := range low {
		keep := l != ""
		for j, m := range low {
			if j == i || m == "" || !strings.Contains(l, m) {
				continue
			}
			// l holds m: drop l, unless they are equal and l comes first
			if len(m) < len(l) || j < i {
				keep = false
				break
			}
		}
		if keep {
			out = append(out, lits[i])
		}
	}
	return out
}

// ForKind returns the rules that read a log kind.
func (c *Catalog) ForKind(kind string) []*rule.Compiled {
	var out []*rule.Compiled
	for _, r := range c.Rules {
		for _, l := range r.Logsource() {
			if l == kind {
				out = append(out, r)
				break
			}
		}
	}
	return out
}

func (d *Data) load(fsys fs.FS) error {
	f, err := fsys.Open("data/exchange-builds.csv")
	if err != nil {
		return fmt.Errorf("build table: %w", err)
	}
	defer f.Close()
	if d.Builds, err = exchange.LoadTable(f); err != nil {
		return err
	}
	lists, _ := fs.Glob(fsys, "lists/*.txt")
	for _, name := range lists {
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		d.Lists[strings.TrimSuffix(path.Base(name), ".txt")] = readList(data)
	}
	feed, err := fs.ReadFile(fsys, "data/MSTICIoCs-ExchangeServerVulnerabilitiesDisclosedMarch2021.csv")
	if err != nil {
		return fmt.Errorf("ioc feed: %w", err)
	}
	paths, err := WebshellURLPaths(bytes.NewReader(feed), d.Lists["webshell-names"])
	if err != nil {
		return err
	}
	d.Lists["webshell-url-paths"] = paths
	return nil
}

func readList(data []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

// webshellFolders are the web folders where the campaign's shells were
// planted, as URL prefixes.
var webshellFolders = []string{"/owa/auth/", "/owa/auth/current/", "/aspnet_client/", "/aspnet_client/system_web/", "/ecp/auth/", "/oab/"}

// WebshellURLPaths turns the file paths of Microsoft's IOC feed into the URL
// paths under which IIS served them, and adds each known web-shell name in
// each web-shell folder. Only script files (.aspx, .ashx, .asmx) are kept.
func WebshellURLPaths(feed io.Reader, names []string) ([]string, error) {
	cr := csv.NewReader(feed)
	cr.FieldsPerRecord = -1
	rows, err := cr.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("ioc feed: %w", err)
	}
	if len(rows) == 0 {
		return nil, errors.New("ioc feed: empty")
	}
	ind, typ := -1, -1
	for i, h := range rows[0] {
		switch h {
		case "Indicator":
			ind = i
		case "IndicatorType":
			typ = i
		}
	}
	if ind < 0 || typ < 0 {
		return nil, errors.New("ioc feed: Indicator or IndicatorType column missing")
	}
	seen := map[string]bool{}
	var out []string
	addPath := func(p string) {
		if !seen[strings.ToLower(p)] {
			seen[strings.ToLower(p)] = true
			out = append(out, p)
		}
	}
	for _, row := range rows[1:] {
		if len(row) <= max(ind, typ) || row[typ] != "filepath" {
			continue
		}
		if u := FileToURL(row[ind]); u != "" {
			addPath(u)
		}
	}
	for _, n := range names {
		for _, d := range webshellFolders {
			addPath(d + n)
		}
	}
	sort.Strings(out)
	return out, nil
}

// FileToURL maps a Windows path under an Exchange or IIS web root to the URL
// path that serves it, or "" when it is not a served script.
func FileToURL(p string) string {
	l := strings.ToLower(strings.ReplaceAll(p, `\`, "/"))
	ext := path.Ext(l)
	if ext != ".aspx" && ext != ".ashx" && ext != ".asmx" {
		return ""
	}
	orig := strings.ReplaceAll(p, `\`, "/")
	for _, root := range []string{"/frontend/httpproxy/", "/inetpub/wwwroot/", "/clientaccess/"} {
		if i := strings.Index(l, root); i >= 0 {
			return "/" + orig[i+len(root):]
		}
	}
	return ""
}

// RuleDoc describes a rule for listings and reports such as SARIF.
type RuleDoc struct {
	ID          string
	Title       string
	Description string
	CVEs        []string
	Chain       string
	Stage       string
	Severity    string
	References  []string
}

// Docs describes every rule a hunt can report: the log and event rules,
// the Sigma rules, then the file hunt's rules (its fixed rules and each
// YARA rule).
func (c *Catalog) Docs() []RuleDoc {
	var out []RuleDoc
	for _, cr := range c.Rules {
		r := cr.Rule
		out = append(out, RuleDoc{ID: r.ID, Title: r.Title, Description: r.Description, CVEs: r.CVEs, Chain: r.Chain,
			Stage: string(r.Stage), Severity: string(r.Severity), References: r.References})
	}
	if c.Sigma != nil {
		for _, r := range c.Sigma.Rules {
			out = append(out, RuleDoc{ID: "sigma:" + r.ID, Title: r.Title, Description: strings.TrimSpace(r.Description),
				CVEs: sigma.CVEs(r.Tags), Stage: string(sigma.StageOf(r.Tags)), Severity: string(sigma.SeverityOf(r.Level)),
				References: append([]string{}, r.References...)})
		}
	}
	if c.Files != nil {
		for _, d := range c.Files.Docs() {
			out = append(out, RuleDoc{ID: d.ID, Title: d.Title, Description: d.Description, CVEs: d.CVEs, Chain: d.Chain,
				Stage: string(d.Stage), Severity: string(d.Severity), References: d.References})
		}
	}
	return out
}

// LoadYara adds the YARA rule files and folders (.yar, .yara) of paths to
// the file hunt. Rules with errors or unsupported features are skipped and
// listed in Files.Problems; an unreadable path is an error.
func (c *Catalog) LoadYara(paths ...string) error {
	if len(paths) == 0 {
		return nil
	}
	fr, err := files.Load(c.fsys, paths)
	if err != nil {
		return err
	}
	c.Files = fr
	return nil
}

// LoadSigma adds the Sigma rules under each path (a file or a folder).
func (c *Catalog) LoadSigma(paths ...string) error {
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("sigma rules: %w", err)
		}
		dir, root := p, "."
		if !st.IsDir() {
			dir, root = filepath.Dir(p), filepath.Base(p)
		}
		set, err := sigma.LoadFS(os.DirFS(dir), root, nil)
		if err != nil {
			return fmt.Errorf("sigma rules %s: %w", p, err)
		}
		for i := range set.Skipped {
			set.Skipped[i].Path = filepath.Join(dir, filepath.FromSlash(set.Skipped[i].Path))
		}
		// a rule the user gives loads, or stops the run naming file,
		// line and reason; only unsupported features are skipped
		if err := set.Broken(); err != nil {
			return fmt.Errorf("sigma rules:\n%w", err)
		}
		c.Sigma.Rules = append(c.Sigma.Rules, set.Rules...)
		c.Sigma.Skipped = append(c.Sigma.Skipped, set.Skipped...)
	}
	return nil
}

// Package files is the file hunt: from a file's place, name, hashes and
// content it tells whether the file is a web shell or another artefact the
// Exchange campaigns left, with the evidence behind each claim.
//
// Layers, each reported as its own finding:
//
//   - place and name: Microsoft's file-path IOCs, signature-base's
//     file-name regular expressions, scripts in Exchange's auth folders and
//     in aspnet_client that Exchange does not ship, LSASS dumps by name,
//     archives in ProgramData;
//   - hashes: SHA-256, SHA-1 and MD5 against Microsoft's IOC feed, the
//     eight hashes of Microsoft's March 2021 blog and signature-base's hash
//     IOCs;
//   - content: the shipped YARA rules (signature-base's and exhunt's own)
//     and any added by the user, all in one pass of the engine;
//   - structure: IIS configuration (virtual directories served from
//     staging folders, handlers that run other extensions as pages) and
//     Microsoft Safety Scanner logs ("Threat Detected").
//
// A file is read once: the bytes YARA sees are the bytes hashed and parsed.
// Files larger than Options.MaxBuffer are streamed in windows; files larger
// than Options.MaxScanBytes are checked by place and name only, and the
// caller reports them.
package files

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/exhunt/exhunt/internal/aspx"
	"github.com/exhunt/exhunt/internal/finding"
	"github.com/exhunt/exhunt/internal/yara"

	"go.yaml.in/yaml/v3"
)

// Problem is a rule or IOC that did not load, with its file and line.
type Problem = yara.Problem

// Rules are the compiled file-hunt rules and indicator lists. They are
// safe for concurrent use.
type Rules struct {
	yara     *yara.Rules
	stages   []stageGlob
	hashes   map[string][]string // lower-case hex digest -> sources
	needSHA1 bool
	needMD5  bool
	paths    map[string]string // anchored path (see anchorPath) -> source
	names    *nameIOCs
	authStd  map[string]bool // lower-case names of Exchange's own auth pages
	pages    *aspx.Rules     // server-page reading (rules/aspx)
	problems []Problem
	stats    Stats
}

// Stats counts what was loaded.
type Stats struct {
	YaraRules int // compiled YARA rules
	YaraFiles int // rule files read
	Hashes    int // distinct IOC hashes
	PathIOCs  int // Microsoft's file paths
	NameIOCs  int // signature-base's file-name expressions in use
}

// Stats returns what was loaded.
func (r *Rules) Stats() Stats { return r.stats }

// Problems returns the rules that were skipped or failed to load, each with
// its file and line; the rest of the rules work.
func (r *Rules) Problems() []Problem { return r.problems }

// Data files inside the rules file system.
const (
	yaraDir       = "yara"
	stagesFile    = "yara/stages.yaml"
	feedFile      = "data/MSTICIoCs-ExchangeServerVulnerabilitiesDisclosedMarch2021.csv"
	blogHashFile  = "lists/hafnium-blog-hashes.txt"
	authFilesFile = "lists/exchange-auth-files.txt"
	sbHashFile    = "iocs/signature-base/hash-iocs.txt"
	sbNameFile    = "iocs/signature-base/filename-iocs.txt"
	aspxFile      = "aspx/aspx.yaml"
)

// Externals are the YARA external variables set for every file, with
// LOKI's meanings so that rules written for LOKI and THOR work unchanged:
// filename is the base name, filepath the Windows path on the server,
// extension the lower-cased extension with its dot (".aspx"), filetype a
// label from the file's first bytes ("EXE", "ZIP", "PST"...).
var Externals = []string{"filename", "filepath", "extension", "filetype"}

// Load compiles the file-hunt rules of fsys (the embedded rules.FS: every
// .yar under yara/, the IOC lists and Microsoft's feed) and the user's
// YARA files or folders. A rule with a syntax error or an unsupported
// feature is skipped and listed in Problems, and the others still load;
// the error is for embedded data that does not load and user paths that
// cannot be read.
func Load(fsys fs.FS, userYara []string) (*Rules, error) {
	r := &Rules{hashes: map[string][]string{}, paths: map[string]string{}, authStd: map[string]bool{}}
	if err := r.loadYara(fsys, userYara); err != nil {
		return nil, err
	}
	if err := r.loadStages(fsys); err != nil {
		return nil, err
	}
	if err := r.loadPages(fsys); err != nil {
		return nil, err
	}
	if err := r.loadFeed(fsys); err != nil {
		return nil, err
	}
	if err := r.loadHashList(fsys, blogHashFile, "Microsoft HAFNIUM blog, 2021-03-02"); err != nil {
		return nil, err
	}
	if err := r.loadSignatureBaseHashes(fsys); err != nil {
		return nil, err
	}
	for _, name := range readList(fsys, authFilesFile) {
		r.authStd[strings.ToLower(name)] = true
	}
	if len(r.authStd) == 0 {
		return nil, fmt.Errorf("%s: empty or missing", authFilesFile)
	}
	data, err := fs.ReadFile(fsys, sbNameFile)
	if err != nil {
		return nil, err
	}
	var probs []Problem
	r.names, probs = parseNameIOCs(sbNameFile, data)
	r.problems = append(r.problems, probs...)
	for h := range r.hashes {
		switch len(h) {
		case 40:
			r.needSHA1 = true
		case 32:
			r.needMD5 = true
		}
	}
	r.stats.Hashes = len(r.hashes)
	r.stats.PathIOCs = len(r.paths)
	r.stats.NameIOCs = len(r.names.iocs)
	return r, nil
}

// loadYara compiles the embedded rule files, each in its own namespace
// (its path), and the user's files together in the namespace "user", so
// that they may refer to each other's rules as with yara.
func (r *Rules) loadYara(fsys fs.FS, userYara []string) error {
	c := yara.NewCompiler()
	for _, e := range Externals {
		c.DefineString(e, "")
	}
	var embedded []string
	err := fs.WalkDir(fsys, yaraDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && isYaraName(p) {
			embedded = append(embedded, p)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("yara rules: %w", err)
	}
	sort.Strings(embedded)
	for _, p := range embedded {
		src, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		r.problems = append(r.problems, c.AddNamespace("rules/"+p, "rules/"+p, src)...)
		r.stats.YaraFiles++
	}
	user, err := yaraFiles(userYara)
	if err != nil {
		return err
	}
	for _, p := range user {
		src, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("yara rules: %w", err)
		}
		r.problems = append(r.problems, c.AddNamespace("user", p, src)...)
		r.stats.YaraFiles++
	}
	rules, _ := c.Rules() // problems were returned by AddNamespace already
	if rules == nil {
		return errors.New("yara rules: no rules compiled")
	}
	r.yara = rules
	r.stats.YaraRules = rules.Stats().Rules
	return nil
}

func isYaraName(p string) bool {
	ext := strings.ToLower(path.Ext(p))
	return ext == ".yar" || ext == ".yara"
}

// yaraFiles expands the user's paths: a file as given, a folder to its
// .yar and .yara files, sorted.
func yaraFiles(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("yara rules: %w", err)
		}
		if !st.IsDir() {
			out = append(out, p)
			continue
		}
		var found []string
		err = filepath.WalkDir(p, func(f string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && isYaraName(f) {
				found = append(found, f)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("yara rules: %w", err)
		}
		if len(found) == 0 {
			return nil, fmt.Errorf("yara rules: no .yar or .yara files in %s", p)
		}
		sort.Strings(found)
		out = append(out, found...)
	}
	return out, nil
}

// stageGlob maps YARA rule names to the stage a match shows.
type stageGlob struct {
	Rule       string        `yaml:"rule"`
	Stage      finding.Stage `yaml:"stage"`
	Supporting bool          `yaml:"supporting"`
}

func (r *Rules) loadStages(fsys fs.FS) error {
	data, err := fs.ReadFile(fsys, stagesFile)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&r.stages); err != nil {
		return fmt.Errorf("%s: %w", stagesFile, err)
	}
	// the entries' lines, for the messages
	var nodes []yaml.Node
	if err := yaml.Unmarshal(data, &nodes); err != nil || len(nodes) != len(r.stages) {
		return fmt.Errorf("%s: %v", stagesFile, err)
	}
	// an entry must name a shipped rule: one for a rule that was renamed
	// or removed would silently stop applying
	var shipped []string
	for _, ri := range r.yara.List() {
		if strings.HasPrefix(ri.Namespace, "rules/") {
			shipped = append(shipped, ri.Rule)
		}
	}
	for i, s := range r.stages {
		if _, err := path.Match(s.Rule, ""); err != nil || !s.Stage.Valid() {
			return fmt.Errorf("%s line %d: bad entry %q -> %q", stagesFile, nodes[i].Line, s.Rule, s.Stage)
		}
		if !slices.ContainsFunc(shipped, func(name string) bool { ok, _ := path.Match(s.Rule, name); return ok }) {
			return fmt.Errorf("%s line %d: %q matches no shipped YARA rule", stagesFile, nodes[i].Line, s.Rule)
		}
	}
	return nil
}

// loadPages reads what the server-page reading treats as input, dangerous
// use and obfuscation.
func (r *Rules) loadPages(fsys fs.FS) error {
	data, err := fs.ReadFile(fsys, aspxFile)
	if err != nil {
		return err
	}
	r.pages, err = aspx.LoadRules(aspxFile, data)
	return err
}

// loadFeed reads Microsoft's IOC feed: SHA-256 hashes and file paths.
func (r *Rules) loadFeed(fsys fs.FS) error {
	data, err := fs.ReadFile(fsys, feedFile)
	if err != nil {
		return fmt.Errorf("ioc feed: %w", err)
	}
	cr := csv.NewReader(bytes.NewReader(data))
	cr.FieldsPerRecord = -1
	rows, err := cr.ReadAll()
	if err != nil || len(rows) == 0 {
		return fmt.Errorf("ioc feed: %v", err)
	}
	ind, typ := slices.Index(rows[0], "Indicator"), slices.Index(rows[0], "IndicatorType")
	if ind < 0 || typ < 0 {
		return errors.New("ioc feed: Indicator or IndicatorType column missing")
	}
	const src = "Microsoft IOC feed, March 2021"
	for _, row := range rows[1:] {
		if len(row) <= max(ind, typ) {
			continue
		}
		switch row[typ] {
		case "sha256", "sha1", "md5":
			r.addHash(row[ind], src)
		case "filepath":
			r.paths[anchorPath(row[ind])] = src
		}
	}
	return nil
}

func (r *Rules) addHash(h, src string) {
	h = strings.ToLower(strings.TrimSpace(h))
	switch len(h) {
	case 32, 40, 64:
	default:
		return
	}
	for _, c := range h {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return
		}
	}
	if !slices.Contains(r.hashes[h], src) {
		r.hashes[h] = append(r.hashes[h], src)
	}
}

func (r *Rules) loadHashList(fsys fs.FS, name, src string) error {
	list := readList(fsys, name)
	if len(list) == 0 {
		return fmt.Errorf("%s: empty or missing", name)
	}
	for _, h := range list {
		r.addHash(h, src)
	}
	return nil
}

// loadSignatureBaseHashes reads "hash;comment" lines.
func (r *Rules) loadSignatureBaseHashes(fsys fs.FS) error {
	data, err := fs.ReadFile(fsys, sbHashFile)
	if err != nil {
		return err
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		h, comment, _ := strings.Cut(l, ";")
		r.addHash(h, "signature-base: "+strings.TrimSpace(comment))
	}
	return sc.Err()
}

// readList reads a list file: one value a line, '#' comments.
func readList(fsys fs.FS, name string) []string {
	data, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil
	}
	var out []string
	for l := range strings.SplitSeq(string(data), "\n") {
		l = strings.TrimSpace(l)
		if l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

// anchorPath reduces a Windows path to the part that names the file on any
// server, lower-cased: from the web root or drive-level folder on, so that
// Microsoft's "C:\Program Files\...\FrontEnd\HttpProxy\owa\auth\x.aspx"
// matches a custom install path or a collection's layout.
func anchorPath(p string) string {
	l := strings.ToLower(strings.ReplaceAll(p, "/", `\`))
	for _, a := range []string{`\frontend\httpproxy\`, `\clientaccess\`, `\inetpub\`, `\programdata\`, `\windows\`, `\users\`, `\root\`} {
		if i := strings.Index(l, a); i >= 0 {
			return l[i:]
		}
	}
	if len(l) >= 2 && l[1] == ':' {
		return l[2:]
	}
	return strings.TrimPrefix(l, "…")
}

package aspx

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Rules are the loaded detection data (rules/aspx/aspx.yaml). Safe for
// concurrent use.
type Rules struct {
	requestMembers map[string]bool
	controlMembers map[string]bool
	uploadNames    map[string]bool
	sanitizers     [][]string
	mappers        [][]string
	decoders       map[string]bool
	listers        map[string]bool // sinks that list or describe files, by name
	scriptHosts    []scriptHost
	sqlText        *regexp.Regexp
	sinks          []sink
	decryptors     [][]string
	hidden         []string
	blobMin        int
	detections     map[string]Spec
}

// Spec is the finding a kind of dangerous use gives.
type Spec struct {
	Rule     string `yaml:"rule"`
	Title    string `yaml:"title"`
	Severity string `yaml:"severity"`
}

// scriptHost is code a page hands to an engine inside a string: the
// marker names the script element, an enabler must be named for the
// engine to run it.
type scriptHost struct {
	marker   string
	enablers []string
}

type sink struct {
	name     string
	parts    []string // lower-case dotted parts
	kind     string   // call, new, assign
	category string
	arg      int // argument checked, -1 for all
	requires []string
	langs    map[Lang]bool
	bare     bool
	names    bool // a file the request names (tNamed) counts too
	// upload: the use keeps an uploaded file; a name the client gives it
	// in a folder the page chose is an uploader's, not a file manager's
	upload bool
	// drops: the use puts a file's content in place (modes: only when
	// the statement names one of these, FileMode.Create)
	drops bool
	modes []string
}

type fileRules struct {
	RequestMembers []string `yaml:"request_members"`
	ControlMembers []string `yaml:"control_members"`
	UploadNames    []string `yaml:"upload_names"`
	PathSanitizers []string `yaml:"path_sanitizers"`
	PathMappers    []string `yaml:"path_mappers"`
	Decoders       []string `yaml:"decoders"`
	ScriptHosts    []struct {
		Marker   string   `yaml:"marker"`
		Enablers []string `yaml:"enablers"`
	} `yaml:"script_hosts"`
	SQLText string `yaml:"sql_text"`
	Sinks   []struct {
		Name     string   `yaml:"name"`
		Kind     string   `yaml:"kind"`
		Category string   `yaml:"category"`
		Arg      *int     `yaml:"arg"`
		Requires []string `yaml:"requires"`
		Langs    []string `yaml:"langs"`
		Bare     bool     `yaml:"bare"`
		Lists    bool     `yaml:"lists"`
		Names    bool     `yaml:"names"`
		Upload   bool     `yaml:"upload"`
		Drops    bool     `yaml:"drops"`
		Modes    []string `yaml:"modes"`
	} `yaml:"sinks"`
	Decryptors  []string        `yaml:"decryptors"`
	HiddenNames []string        `yaml:"hidden_names"`
	BlobMin     int             `yaml:"blob_min"`
	Detections  map[string]Spec `yaml:"detections"`
}

// categories every detection spec must cover.
var categories = []string{"exec", "code", "loader", "obfuscated", "filewrite", "fileread", "sql", "sqlconn", "net", "http"}

// LoadRules reads the detection data; name is used in errors.
func LoadRules(name string, data []byte) (*Rules, error) {
	var f fileRules
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	re, err := regexp.Compile(f.SQLText)
	if err != nil || f.SQLText == "" {
		return nil, fmt.Errorf("%s: sql_text: %v", name, err)
	}
	r := &Rules{
		requestMembers: lowerSet(f.RequestMembers),
		controlMembers: lowerSet(f.ControlMembers),
		uploadNames:    lowerSet(f.UploadNames),
		decoders:       lowerSet(f.Decoders),
		listers:        map[string]bool{},
		sqlText:        re,
		blobMin:        f.BlobMin,
		detections:     f.Detections,
	}
	if r.blobMin < 32 {
		return nil, fmt.Errorf("%s: blob_min %d is below 32", name, r.blobMin)
	}
	for _, s := range f.PathSanitizers {
		r.sanitizers = append(r.sanitizers, dotted(s))
	}
	for _, s := range f.PathMappers {
		r.mappers = append(r.mappers, dotted(s))
	}
	for i, h := range f.ScriptHosts {
		if h.Marker == "" || len(h.Enablers) == 0 {
			return nil, fmt.Errorf("%s: script host %d needs a marker and enablers", name, i+1)
		}
		sh := scriptHost{marker: strings.ToLower(h.Marker)}
		for _, e := range h.Enablers {
			sh.enablers = append(sh.enablers, strings.ToLower(e))
		}
		r.scriptHosts = append(r.scriptHosts, sh)
	}
	for _, s := range f.Decryptors {
		r.decryptors = append(r.decryptors, dotted(s))
	}
	for _, s := range f.HiddenNames {
		r.hidden = append(r.hidden, strings.ToLower(s))
	}
	for i, s := range f.Sinks {
		if s.Kind != "call" && s.Kind != "new" && s.Kind != "assign" {
			return nil, fmt.Errorf("%s: sink %d (%s): kind %q is not call, new or assign", name, i+1, s.Name, s.Kind)
		}
		if _, ok := f.Detections[s.Category]; !ok {
			return nil, fmt.Errorf("%s: sink %d (%s): category %q has no detection", name, i+1, s.Name, s.Category)
		}
		k := sink{name: s.Name, parts: dotted(s.Name), kind: s.Kind, category: s.Category, arg: -1, bare: s.Bare, names: s.Names, upload: s.Upload,
			drops: s.Drops || s.Names, modes: lowerList(s.Modes)}
		if s.Arg != nil {
			k.arg = *s.Arg
		}
		for _, q := range s.Requires {
			k.requires = append(k.requires, strings.ToLower(q))
		}
		if len(s.Langs) > 0 {
			k.langs = map[Lang]bool{}
			for _, l := range s.Langs {
				lg, ok := langOf(l)
				if !ok {
					return nil, fmt.Errorf("%s: sink %d (%s): unknown language %q", name, i+1, s.Name, l)
				}
				k.langs[lg] = true
			}
		}
		if s.Lists {
			if s.Category != "fileread" {
				return nil, fmt.Errorf("%s: sink %d (%s): lists is for fileread sinks", name, i+1, s.Name)
			}
			r.listers[strings.ToLower(s.Name)] = true
		}
		r.sinks = append(r.sinks, k)
	}
	for _, c := range categories {
		sp, ok := f.Detections[c]
		if !ok || sp.Rule == "" || sp.Title == "" || sp.Severity == "" {
			return nil, fmt.Errorf("%s: detections: %q needs rule, title and severity", name, c)
		}
	}
	return r, nil
}

func lowerList(xs []string) []string {
	var out []string
	for _, x := range xs {
		out = append(out, strings.ToLower(x))
	}
	return out
}

func lowerSet(xs []string) map[string]bool {
	m := make(map[string]bool, len(xs))
	for _, x := range xs {
		m[strings.ToLower(x)] = true
	}
	return m
}

func dotted(s string) []string {
	return strings.Split(strings.ToLower(s), ".")
}

// Specs returns the findings the detection data can give, one per rule
// id (the file-manager categories share one), in category order.
func (r *Rules) Specs() []Spec {
	var out []Spec
	seen := map[string]bool{}
	for _, c := range categories {
		sp := r.detections[c]
		if !seen[sp.Rule] {
			seen[sp.Rule] = true
			out = append(out, sp)
		}
	}
	return out
}

package sigma

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// Set is what loading a tree of rule files gave.
type Set struct {
	Rules   []*Rule
	Skipped []Skipped
}

// Skipped is a rule file that was not loaded, and why.
type Skipped struct {
	Path string
	// Line is the line of the file at fault, 0 when unknown.
	Line      int
	ID, Title string
	Reason    string
	// Unsupported: the rule is well formed but needs a feature exhunt lacks.
	Unsupported bool
	// Duplicate: a rule with the same id was loaded before. A file neither
	// unsupported nor duplicate is broken.
	Duplicate bool
}

// Broken reports whether the file is broken: neither a rule that needs a
// feature exhunt lacks nor a second copy of a loaded rule.
func (s Skipped) Broken() bool { return !s.Unsupported && !s.Duplicate }

// Where is the file and line at fault, as path:line.
func (s Skipped) Where() string {
	if s.Line > 0 {
		return fmt.Sprintf("%s:%d", s.Path, s.Line)
	}
	return s.Path
}

// Broken returns an error naming every broken rule file, with line and
// reason, or nil. Rules a user gives must load or stop the run: a broken
// one skipped would leave the analyst believing it ran.
func (s *Set) Broken() error {
	var errs []error
	for _, sk := range s.Skipped {
		if sk.Broken() {
			// the line leads the message; the reason need not repeat it
			reason := strings.Replace(sk.Reason, fmt.Sprintf("line %d: ", sk.Line), "", 1)
			errs = append(errs, fmt.Errorf("%s: %s", sk.Where(), reason))
		}
	}
	return errors.Join(errs...)
}

// LoadDir loads every rule under a folder; see LoadFS.
func LoadDir(dir string, cfg *Config) (*Set, error) {
	s, err := LoadFS(os.DirFS(dir), ".", cfg)
	if err != nil {
		return nil, err
	}
	for _, r := range s.Rules {
		r.Path = filepath.Join(dir, filepath.FromSlash(r.Path))
	}
	for i := range s.Skipped {
		s.Skipped[i].Path = filepath.Join(dir, filepath.FromSlash(s.Skipped[i].Path))
	}
	return s, nil
}

// LoadFS loads every .yml and .yaml file under root. A rule that cannot be
// used is listed in Skipped with the reason, as is a second rule with an id
// already loaded; the error is only for a tree that cannot be read.
func LoadFS(fsys fs.FS, root string, cfg *Config) (*Set, error) {
	s := &Set{}
	ids := map[string]string{}
	err := fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		ext := strings.ToLower(path.Ext(p))
		if d.IsDir() || (ext != ".yml" && ext != ".yaml") {
			return nil
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		r, err := Parse(data, cfg)
		if err != nil {
			sk := Skipped{Path: p, Reason: err.Error(), Unsupported: errors.Is(err, ErrUnsupported)}
			if le, ok := err.(*LoadError); ok {
				sk.ID, sk.Title, sk.Line = le.ID, le.Title, le.Line
			}
			s.Skipped = append(s.Skipped, sk)
			return nil
		}
		r.Path = p
		if r.ID != "" {
			if first, dup := ids[r.ID]; dup {
				s.Skipped = append(s.Skipped, Skipped{Path: p, ID: r.ID, Title: r.Title, Duplicate: true,
					Reason: fmt.Sprintf("id %s was already loaded from %s", r.ID, first)})
				return nil
			}
			ids[r.ID] = p
		}
		s.Rules = append(s.Rules, r)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Reasons counts the skipped rules by reason, with the detail that differs
// between rules (values, line numbers) cut off, most frequent first.
func (s *Set) Reasons() []ReasonCount {
	counts := map[string]int{}
	for _, sk := range s.Skipped {
		counts[reasonClass(sk.Reason)]++
	}
	out := make([]ReasonCount, 0, len(counts))
	for r, n := range counts {
		out = append(out, ReasonCount{r, n})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Reason < out[j].Reason
	})
	return out
}

// ReasonCount is one reason rules were skipped and how many.
type ReasonCount struct {
	Reason string
	Count  int
}

// reasonClass keeps the part of a reason that names the feature: from the
// last "unsupported: " on, up to the first quoted detail.
func reasonClass(r string) string {
	u := ErrUnsupported.Error() + ": "
	if i := strings.LastIndex(r, u); i >= 0 {
		r = r[i:]
	}
	if i := strings.IndexByte(r, '"'); i > 0 {
		r = r[:i]
	}
	return strings.TrimRight(r, " :")
}

package evtx

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// sharedDir is the repository root, whose testdata/ holds the EVTX samples
// (testdata/evtx) and SigmaHQ's regression cases (testdata/sigma-regression).
func sharedDir(t testing.TB) string {
	t.Helper()
	dir := filepath.Join("..", "..")
	if _, err := os.Stat(filepath.Join(dir, "testdata", "evtx")); err != nil {
		t.Fatalf("test corpus missing (%v): testdata/evtx and testdata/sigma-regression", err)
	}
	return dir
}

// evtxFiles lists every .evtx file of the shared test data.
func evtxFiles(t testing.TB) []string {
	t.Helper()
	dir := sharedDir(t)
	var files []string
	for _, root := range []string{"testdata/evtx", "testdata/sigma-regression/cases"} {
		err := filepath.WalkDir(filepath.Join(dir, root), func(path string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(path, ".evtx") {
				files = append(files, path)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	sort.Strings(files)
	if len(files) < 90 {
		t.Fatalf("found only %d .evtx files under %s", len(files), dir)
	}
	return files
}

// readBytes parses an in-memory file and returns its events and stats.
func readBytes(t testing.TB, name string, data []byte, opt Options) ([]*Event, Stats, error) {
	t.Helper()
	opt.Name = name
	r, err := Open(bytes.NewReader(data), int64(len(data)), opt)
	if err != nil {
		return nil, Stats{}, err
	}
	var evs []*Event
	st, err := r.Events(context.Background(), 2, func(e *Event) error {
		evs = append(evs, e)
		return nil
	})
	return evs, st, err
}

func readFile(t testing.TB, path string) ([]*Event, Stats) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	evs, st, err := readBytes(t, path, data, Options{})
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return evs, st
}

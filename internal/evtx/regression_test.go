package evtx

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TestRegressionJSON renders each event of the Sigma regression suite's
// expected JSON (evtx_dump's rendering, one or more objects per file) from
// the .evtx beside it and requires the same JSON value.
func TestRegressionJSON(t *testing.T) {
	dir := filepath.Join(sharedDir(t), "testdata", "sigma-regression", "cases")
	cases, compared := 0, 0
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".evtx") {
			return err
		}
		want := strings.TrimSuffix(path, ".evtx") + ".json"
		if _, err := os.Stat(want); err != nil {
			return nil
		}
		cases++
		compared += compareJSONFile(t, path, want)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if cases < 90 {
		t.Errorf("only %d regression cases found", cases)
	}
	t.Logf("%d cases, %d events compared", cases, compared)
}

func compareJSONFile(t *testing.T, evtxPath, jsonPath string) int {
	t.Helper()
	rel := strings.TrimPrefix(evtxPath, filepath.Join(sharedDir(t), "testdata")+string(filepath.Separator))
	evs, st := readFile(t, evtxPath)
	if len(st.Corrupt) > 0 {
		t.Errorf("%s: problems: %v", rel, st.Corrupt)
	}
	byID := map[string]*Event{}
	for _, e := range evs {
		id, _ := e.Field("EventRecordID")
		byID[id] = e
	}
	f, err := os.Open(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := json.NewDecoder(f)
	dec.UseNumber()
	n := 0
	for {
		var want any
		if err := dec.Decode(&want); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("%s: %v", jsonPath, err)
		}
		n++
		id := fmt.Sprint(dig(want, "Event", "System", "EventRecordID"))
		e := byID[id]
		if e == nil {
			t.Errorf("%s: no record with EventRecordID %s", rel, id)
			continue
		}
		got, err := e.JSON()
		if err != nil {
			t.Errorf("%s record %s: JSON: %v", rel, id, err)
			continue
		}
		var have any
		d2 := json.NewDecoder(strings.NewReader(string(got)))
		d2.UseNumber()
		if err := d2.Decode(&have); err != nil {
			t.Errorf("%s record %s: invalid JSON %v:\n%s", rel, id, err, got)
			continue
		}
		for _, diff := range jsonDiff("", want, have) {
			t.Errorf("%s record %s: %s", rel, id, diff)
		}
	}
	if n == 0 {
		t.Errorf("%s: no events", jsonPath)
	}
	return n
}

func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, _ := v.(map[string]any)
		v = m[k]
	}
	return v
}

// jsonDiff lists where two decoded JSON values differ; numbers compare by
// value.
func jsonDiff(path string, want, have any) []string {
	switch w := want.(type) {
	case map[string]any:
		h, ok := have.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: want object, have %#v", path, have)}
		}
		var out []string
		keys := make([]string, 0, len(w)+len(h))
		for k := range w {
			keys = append(keys, k)
		}
		for k := range h {
			if _, ok := w[k]; !ok {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			wv, wok := w[k]
			hv, hok := h[k]
			switch {
			case !wok:
				out = append(out, fmt.Sprintf("%s/%s: unexpected %#v", path, k, hv))
			case !hok:
				out = append(out, fmt.Sprintf("%s/%s: missing, want %#v", path, k, wv))
			default:
				out = append(out, jsonDiff(path+"/"+k, wv, hv)...)
			}
		}
		return out
	case []any:
		h, ok := have.([]any)
		if !ok || len(h) != len(w) {
			return []string{fmt.Sprintf("%s: want %#v, have %#v", path, want, have)}
		}
		var out []string
		for i := range w {
			out = append(out, jsonDiff(fmt.Sprintf("%s[%d]", path, i), w[i], h[i])...)
		}
		return out
	case json.Number:
		h, ok := have.(json.Number)
		if ok && sameNumber(w, h) {
			return nil
		}
	default:
		if want == have {
			return nil
		}
	}
	return []string{fmt.Sprintf("%s: want %#v, have %#v", path, want, have)}
}

func sameNumber(a, b json.Number) bool {
	x, ok1 := new(big.Float).SetString(a.String())
	y, ok2 := new(big.Float).SetString(b.String())
	return ok1 && ok2 && x.Cmp(y) == 0
}

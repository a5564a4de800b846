package evtx

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// evtxexport finds libevtx's evtxexport, the independent implementation
// the reader is checked against. CI must have it; elsewhere its absence
// skips the test.
func evtxexport(t testing.TB) string {
	t.Helper()
	path, err := exec.LookPath("evtxexport")
	if err != nil {
		const msg = "evtxexport not installed: .ci/run must apt-get install libevtx-utils"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return path
}

// oracleRecord is one record as evtxexport prints it.
type oracleRecord struct {
	id      uint64
	written time.Time
	fields  []Field
}

// runOracle runs evtxexport twice: its text output has the record
// numbers and written times, its XML output the values.
func runOracle(t *testing.T, bin, path string) []oracleRecord {
	t.Helper()
	text, err := exec.Command(bin, path).Output()
	if err != nil {
		t.Fatalf("evtxexport %s: %v", path, err)
	}
	xmlOut, err := exec.Command(bin, "-f", "xml", path).Output()
	if err != nil {
		t.Fatalf("evtxexport -f xml %s: %v", path, err)
	}
	var recs []oracleRecord
	sc := bufio.NewScanner(bytes.NewReader(text))
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		switch key {
		case "Event number":
			id, err := strconv.ParseUint(val, 10, 64)
			if err != nil {
				t.Fatalf("%s: event number %q", path, val)
			}
			recs = append(recs, oracleRecord{id: id})
		case "Written time":
			w, err := time.Parse("Jan 02, 2006 15:04:05.000000000 MST", val)
			if err != nil {
				t.Fatalf("%s: written time %q: %v", path, val, err)
			}
			recs[len(recs)-1].written = w.UTC()
		}
	}
	events := parseXMLEvents(t, path, xmlOut)
	if len(events) != len(recs) {
		t.Fatalf("%s: evtxexport printed %d records in text and %d in XML", path, len(recs), len(events))
	}
	for i := range recs {
		recs[i].fields = flattenXML(events[i])
	}
	return recs
}

// xnode is a parsed XML element.
type xnode struct {
	name  string
	attrs []xml.Attr
	text  strings.Builder
	kids  []*xnode
}

func parseXMLEvents(t *testing.T, path string, out []byte) []*xnode {
	t.Helper()
	if i := bytes.Index(out, []byte("<Event")); i >= 0 {
		out = out[i:] // skip the version banner
	} else {
		return nil
	}
	dec := xml.NewDecoder(bytes.NewReader(out))
	var roots []*xnode
	var stack []*xnode
	for {
		tok, err := dec.Token()
		if err != nil {
			if err.Error() == "EOF" {
				break
			}
			t.Fatalf("%s: evtxexport XML: %v", path, err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			n := &xnode{name: tok.Name.Local, attrs: tok.Attr}
			if len(stack) == 0 {
				roots = append(roots, n)
			} else {
				top := stack[len(stack)-1]
				top.kids = append(top.kids, n)
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text.Write(tok)
			}
		}
	}
	return roots
}

// flattenXML names fields the way the reader does (see fieldSink),
// written independently from the XML tree. evtxexport indents its output,
// so text of elements with children is whitespace and ignored.
func flattenXML(root *xnode) []Field {
	var out []Field
	seen := map[string]bool{}
	add := func(k, v string) {
		if seen[k] {
			for n := 2; ; n++ {
				if k2 := k + "_" + strconv.Itoa(n); !seen[k2] {
					k = k2
					break
				}
			}
		}
		seen[k] = true
		out = append(out, Field{k, v})
	}
	var walk func(n *xnode)
	walk = func(n *xnode) {
		for _, a := range n.attrs {
			if a.Name.Local == "xmlns" || a.Name.Space == "xmlns" || a.Value == "" {
				continue
			}
			k := n.name + "_" + a.Name.Local
			if k == "TimeCreated_SystemTime" {
				k = "TimeCreated"
			}
			add(k, a.Value)
		}
		if len(n.kids) == 0 {
			if s := n.text.String(); s != "" {
				add(n.name, s)
			}
			return
		}
		for _, k := range n.kids {
			walk(k)
		}
	}
	for _, sec := range root.kids {
		if len(sec.kids) == 0 {
			if s := sec.text.String(); s != "" {
				add(sec.name, s)
			}
		}
		for _, n := range sec.kids {
			if sec.name == "EventData" && n.name == "Data" {
				key := "Data"
				for _, a := range n.attrs {
					if a.Name.Local == "Name" && a.Value != "" {
						key = a.Value
					}
				}
				add(key, n.text.String())
				continue
			}
			walk(n)
		}
	}
	return out
}

// sameValue compares a value of ours with evtxexport's, allowing for the
// renderings that differ by design: evtx_dump's (ours) drops trailing
// whitespace, prints GUIDs upper case without braces, hex numbers without
// leading zeros, and times to the microsecond; libevtx's XML has CR LF
// read back as LF.
func sameValue(ours, theirs string) bool {
	theirs = strings.TrimRightFunc(theirs, isSpace)
	ours = strings.ReplaceAll(ours, "\r\n", "\n")
	if ours == theirs || ours == strings.ReplaceAll(theirs, "\r\n", "\n") {
		return true
	}
	if x, ok := parseNumber(ours); ok {
		if y, ok := parseNumber(theirs); ok {
			return x.Cmp(y) == 0
		}
	}
	if len(theirs) == 38 && theirs[0] == '{' && theirs[37] == '}' {
		return strings.EqualFold(ours, theirs[1:37])
	}
	if a, err := time.Parse(time.RFC3339Nano, ours); err == nil {
		if b, err := time.Parse(time.RFC3339Nano, theirs); err == nil {
			return a.Equal(b.Truncate(time.Microsecond))
		}
	}
	return false
}

func isSpace(r rune) bool { return strings.TrimSpace(string(r)) == "" }

func parseNumber(s string) (*big.Int, bool) {
	if h, ok := strings.CutPrefix(s, "0x"); ok {
		return new(big.Int).SetString(h, 16)
	}
	if s == "" || !(s[0] >= '0' && s[0] <= '9' || s[0] == '-') {
		return nil, false
	}
	return new(big.Int).SetString(s, 10)
}

// TestEvtxexport reads every sample file and requires what libevtx's
// evtxexport reads: the same records in the same order, with the same ids,
// written times and field values.
func TestEvtxexport(t *testing.T) {
	bin := evtxexport(t)
	files, records, values := 0, 0, 0
	for _, path := range evtxFiles(t) {
		rel, _ := filepath.Rel(sharedDir(t), path)
		r, v := agreeWithOracle(t, bin, path, rel)
		files++
		records += r
		values += v
	}
	t.Logf("%d files, %d records, %d values agree with evtxexport", files, records, values)
}

// agreeWithOracle requires our reading of one file to equal evtxexport's;
// it returns the records and values compared.
func agreeWithOracle(t *testing.T, bin, path, rel string) (records, values int) {
	t.Helper()
	want := runOracle(t, bin, path)
	have, st := readFile(t, path)
	if len(st.Corrupt) > 0 {
		t.Errorf("%s: problems: %v", rel, st.Corrupt)
	}
	if len(have) != len(want) {
		t.Errorf("%s: %d records, evtxexport has %d", rel, len(have), len(want))
		return
	}
	for i, w := range want {
		h := have[i]
		where := fmt.Sprintf("%s record %d", rel, w.id)
		if h.RecordID != w.id {
			t.Errorf("%s: record id %d", where, h.RecordID)
			continue
		}
		if !h.Time.Equal(w.written) {
			t.Errorf("%s: written %v, evtxexport %v", where, h.Time, w.written)
		}
		records++
		if len(h.Fields) != len(w.fields) {
			t.Errorf("%s: %d fields, evtxexport has %d:\n ours   %v\n theirs %v", where, len(h.Fields), len(w.fields), h.Fields, w.fields)
			continue
		}
		for j, wf := range w.fields {
			hf := h.Fields[j]
			if hf.Name != wf.Name || !sameValue(hf.Value, wf.Value) {
				t.Errorf("%s: field %d: %s=%q, evtxexport %s=%q", where, j, hf.Name, hf.Value, wf.Name, wf.Value)
			}
			values++
		}
	}
	return records, values
}

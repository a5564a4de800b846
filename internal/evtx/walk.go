package evtx

// piece is one run of text in a rendered record: a literal from the
// template, or a substitution value still in its binary form (so JSON can
// tell numbers from strings, and nothing is decoded that is not needed).
type piece struct {
	lit  bool
	typ  byte
	text string // lit
	data []byte // value
}

func (pc piece) empty() bool {
	if pc.lit {
		return pc.text == ""
	}
	return isEmptyValue(pc.typ, pc.data)
}

func (pc piece) appendTo(dst []byte) []byte {
	if pc.lit {
		return append(dst, pc.text...)
	}
	return appendValue(dst, pc.typ, pc.data)
}

// size bounds the bytes pc renders to, without rendering it.
func (pc piece) size() int {
	if pc.lit {
		return len(pc.text)
	}
	// UTF-16 to UTF-8 is at most 3/2, hex 2 per byte, a SID's 4-byte
	// sub-authority at most 11; 32 covers the fixed-size types.
	return 3*len(pc.data) + 32
}

type attrVal struct {
	name   string
	val    []piece
	lo, hi int
}

// sink receives a record's elements in document order. start's slices are
// only valid during the call.
type sink interface {
	start(name string, attrs []attrVal)
	text(pc piece)
	end()
}

// walker expands an instance (template plus values) into sink calls:
// substitutions are replaced by their values, BinXml values expand in
// place, and an array value repeats its element once per item, as Windows
// renders it (MS-EVEN6 3.1.4.7.5).
type walker struct {
	sink   sink
	visits int // left
	output int // left
	depth  int
	err    error
	pieces []piece
	attrs  []attrVal
}

func (w *walker) run(in *instance, s sink, visits, output int) error {
	w.sink, w.visits, w.output, w.depth, w.err = s, visits, output, 0, nil
	w.instance(in)
	w.sink = nil
	return w.err
}

// noArray means no array substitution is being expanded.
const noArray = -1

func (w *walker) instance(in *instance) {
	if w.depth >= maxDepth {
		w.err = errBudget
		return
	}
	w.depth++
	for i := range in.items {
		w.item(in, &in.items[i], noArray, 0)
	}
	w.depth--
}

// item walks one node; arr and k say which array substitution of the
// enclosing element stands for its item k.
func (w *walker) item(in *instance, it *item, arr, k int) {
	if w.err != nil {
		return
	}
	if w.visits--; w.visits < 0 {
		w.err = errBudget
		return
	}
	switch it.kind {
	case itemText:
		w.emitText(piece{lit: true, text: it.text})
	case itemElem:
		w.element(in, it.elem)
	case itemInst:
		w.instance(it.inst)
	case itemSubst:
		if int(it.sub) >= len(in.vals) {
			return // a missing value renders as nothing, like a null one
		}
		v := &in.vals[it.sub]
		if v.typ == typeBinXML {
			if v.sub != nil {
				w.instance(v.sub)
			}
			return
		}
		w.emitText(valuePiece(in, v, int(it.sub), arr, k))
	}
}

func valuePiece(in *instance, v *value, sub, arr, k int) piece {
	if sub == arr {
		t, d := arrayItem(v.typ, in.data(v), k)
		return piece{typ: t, data: d}
	}
	return piece{typ: v.typ, data: in.data(v)}
}

func (w *walker) emitText(pc piece) {
	if w.output -= pc.size(); w.output < 0 {
		w.err = errBudget
		return
	}
	w.sink.text(pc)
}

// element emits e, repeated when one of its substitutions is an array of
// more than one item.
func (w *walker) element(in *instance, e *elem) {
	if e.substs {
		if sub, n := firstArray(in, e); n > 1 {
			for k := 0; k < n && w.err == nil; k++ {
				w.emit(in, e, sub, k)
			}
			return
		}
	}
	w.emit(in, e, noArray, 0)
}

// firstArray finds the first substitution among e's content, then its
// attributes, whose value is an array of more than one item. Further arrays
// render joined with commas (expanding them all multiplies the output).
func firstArray(in *instance, e *elem) (int, int) {
	check := func(it *item) (int, int) {
		if it.kind != itemSubst || int(it.sub) >= len(in.vals) {
			return noArray, 0
		}
		v := &in.vals[it.sub]
		if v.typ&typeArray == 0 {
			return noArray, 0
		}
		return int(it.sub), arrayLen(v.typ, in.data(v))
	}
	for i := range e.kids {
		if sub, n := check(&e.kids[i]); n > 1 {
			return sub, n
		}
	}
	for i := range e.attrs {
		for j := range e.attrs[i].val {
			if sub, n := check(&e.attrs[i].val[j]); n > 1 {
				return sub, n
			}
		}
	}
	return noArray, 0
}

func (w *walker) emit(in *instance, e *elem, arr, k int) {
	if w.depth >= maxDepth {
		w.err = errBudget
		return
	}
	if w.visits -= 1 + len(e.attrs); w.visits < 0 {
		w.err = errBudget
		return
	}
	w.depth++
	pbase, abase := len(w.pieces), len(w.attrs)
	for i := range e.attrs {
		a := &e.attrs[i]
		lo := len(w.pieces)
		for j := range a.val {
			it := &a.val[j]
			var pc piece
			switch {
			case it.kind == itemText:
				pc = piece{lit: true, text: it.text}
			case int(it.sub) < len(in.vals) && in.vals[it.sub].typ != typeBinXML:
				pc = valuePiece(in, &in.vals[it.sub], int(it.sub), arr, k)
			default:
				continue
			}
			if w.output -= pc.size(); w.output < 0 {
				w.err = errBudget
			}
			w.pieces = append(w.pieces, pc)
		}
		w.attrs = append(w.attrs, attrVal{name: a.name, lo: lo, hi: len(w.pieces)})
	}
	attrs := w.attrs[abase:]
	for i := range attrs {
		attrs[i].val = w.pieces[attrs[i].lo:attrs[i].hi]
	}
	if w.err == nil {
		w.sink.start(e.name, attrs)
	}
	w.pieces, w.attrs = w.pieces[:pbase], w.attrs[:abase]
	if w.err == nil {
		for i := range e.kids {
			w.item(in, &e.kids[i], arr, k)
		}
		w.sink.end()
	}
	w.depth--
}

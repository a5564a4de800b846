package yara

import "math"

// The functions of YARA's math module that generic web-shell rules use
// against false positives, over a range of the scanned data: entropy(offset, size), mean(offset, size),
// deviation(offset, size, mean) (the mean absolute deviation from mean, as
// libyara computes it). As in libyara, the range is cut at the end of the
// data, and a negative offset or size, or an offset at or past the end,
// gives undefined. Streamed files see their first window only: a range
// past it is undefined (such rules bound filesize far below the window
// size).
var mathFuncs = map[string]int{"math.entropy": 2, "math.mean": 2, "math.deviation": 3}

// mathCall turns a module reference into a math function call when the
// rule imports math and the function is one exhunt has; the argument
// count must match.
func (rc *ruleCompiler) mathCall(e *expr) bool {
	if !rc.imported["math"] || len(e.name) < 3 || e.name[len(e.name)-2:] != "()" {
		return false
	}
	name := e.name[:len(e.name)-2]
	n, ok := mathFuncs[name]
	if !ok {
		return false
	}
	if len(e.args) != n {
		rc.fail("%s takes %d arguments (the string forms are not supported)", name, n)
		return true
	}
	for _, a := range e.args {
		if a == nil {
			rc.fail("%s: a regular expression is not an argument", name)
			return true
		}
	}
	e.kind, e.name = eCall, name
	return true
}

func (rc *ruleCompiler) mathType(e *expr) vtype {
	rc.wantInt(e.args[0], e.name+" offset")
	rc.wantInt(e.args[1], e.name+" size")
	if len(e.args) == 3 {
		if t := rc.typeOf(e.args[2]); t != tyFloat {
			rc.fail("wrong type for %s mean: %s (a float is needed)", e.name, tyName[t])
		}
	}
	return tyFloat
}

// math evaluates a math function.
func (c *evalCtx) math(e *expr) value {
	ov, sv := c.eval(e.args[0]), c.eval(e.args[1])
	if ov.k == vUndef || sv.k == vUndef {
		return undef
	}
	off, _, _ := ov.num()
	size, _, _ := sv.num()
	data, total := c.st.head, c.st.filesize
	if off < 0 || size < 0 || off >= total {
		return undef
	}
	if size > total-off {
		size = total - off
	}
	if off+size > int64(len(data)) { // past a streamed file's first window
		return undef
	}
	b := data[off : off+size]
	switch e.name {
	case "math.entropy":
		var hist [256]uint32
		for _, x := range b {
			hist[x]++
		}
		ent := 0.0
		for _, n := range hist {
			if n != 0 {
				x := float64(n) / float64(len(b))
				ent -= x * math.Log2(x)
			}
		}
		return floatVal(ent)
	case "math.mean":
		var sum uint64
		for _, x := range b {
			sum += uint64(x)
		}
		return floatVal(float64(sum) / float64(len(b)))
	case "math.deviation":
		mv := c.eval(e.args[2])
		if mv.k == vUndef {
			return undef
		}
		_, mean, _ := mv.num()
		sum := 0.0
		for _, x := range b {
			sum += math.Abs(float64(x) - mean)
		}
		return floatVal(sum / float64(len(b)))
	}
	return undef
}

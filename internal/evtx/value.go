package evtx

import (
	"encoding/binary"
	"math"
	"strconv"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// BinXML value types (MS-EVEN6 2.2.18 / libevtx "value types"). An array of
// type T is T|typeArray.
const (
	typeNull      = 0x00
	typeString    = 0x01 // UTF-16LE
	typeAnsi      = 0x02 // code page 1252
	typeInt8      = 0x03
	typeUint8     = 0x04
	typeInt16     = 0x05
	typeUint16    = 0x06
	typeInt32     = 0x07
	typeUint32    = 0x08
	typeInt64     = 0x09
	typeUint64    = 0x0a
	typeReal32    = 0x0b
	typeReal64    = 0x0c
	typeBool      = 0x0d // 32-bit
	typeBinary    = 0x0e
	typeGUID      = 0x0f
	typeSizeT     = 0x10
	typeFiletime  = 0x11
	typeSystime   = 0x12
	typeSID       = 0x13
	typeHex32     = 0x14
	typeHex64     = 0x15
	typeEvtHandle = 0x20
	typeBinXML    = 0x21
	typeEvtXML    = 0x23
	typeArray     = 0x80
)

// fixedSize is the size of one item of a fixed-size type, 0 for the others.
func fixedSize(t byte) int {
	switch t {
	case typeInt8, typeUint8:
		return 1
	case typeInt16, typeUint16:
		return 2
	case typeInt32, typeUint32, typeReal32, typeBool, typeHex32:
		return 4
	case typeInt64, typeUint64, typeReal64, typeFiletime, typeHex64:
		return 8
	case typeGUID, typeSystime:
		return 16
	}
	return 0
}

// isNumber reports whether a scalar of type t renders as a JSON number (or
// boolean), as evtx_dump renders them; everything else is a string.
func isNumber(t byte) bool {
	switch t {
	case typeInt8, typeUint8, typeInt16, typeUint16, typeInt32, typeUint32,
		typeInt64, typeUint64, typeBool:
		return true
	}
	return false
}

// le reads up to 8 bytes little-endian; missing bytes read as zero, so a
// value shorter than its type never panics.
func le(d []byte, n int) uint64 {
	if len(d) >= 8 && n == 8 {
		return binary.LittleEndian.Uint64(d)
	}
	var v uint64
	for i := 0; i < n && i < len(d); i++ {
		v |= uint64(d[i]) << (8 * i)
	}
	return v
}

// isEmptyValue reports whether a value renders as nothing: evtx_dump (and
// Windows) drop optional substitutions and attributes that hold one.
func isEmptyValue(t byte, d []byte) bool {
	switch {
	case t == typeNull:
		return true
	case t == typeString:
		return len(d) < 2 || (d[0] == 0 && d[1] == 0)
	case t == typeAnsi:
		return len(d) == 0 || d[0] == 0
	case t == typeBinary, t == typeBinXML, t&typeArray != 0:
		return len(d) == 0
	}
	return false
}

// arrayLen is the number of items of an array value.
func arrayLen(t byte, d []byte) int {
	base := t &^ typeArray
	switch base {
	case typeString:
		n := 0
		for i := 0; i < len(d); n++ {
			_, i = nextString(d, i)
		}
		return n
	case typeSID:
		n := 0
		for len(d) >= 8 {
			sz := 8 + 4*int(d[1])
			if sz > len(d) {
				sz = len(d)
			}
			d = d[sz:]
			n++
		}
		return n
	case typeSizeT:
		return len(d) / sizeTWidth(d)
	}
	if sz := fixedSize(base); sz > 0 {
		return len(d) / sz
	}
	return 1
}

// nextString returns the NUL-terminated UTF-16 string of a string array
// that starts at byte i, and where the next one starts; the last string may
// lack its terminator.
func nextString(d []byte, i int) ([]byte, int) {
	j := i
	for j+1 < len(d) && (d[j] != 0 || d[j+1] != 0) {
		j += 2
	}
	if j+1 >= len(d) {
		return d[i:], len(d)
	}
	return d[i:j], j + 2
}

// sizeTWidth guesses the pointer width of a size_t array: 8 when it divides.
func sizeTWidth(d []byte) int {
	if len(d)%8 == 0 {
		return 8
	}
	return 4
}

// arrayItem returns item k of an array value as a scalar of the base type.
func arrayItem(t byte, d []byte, k int) (byte, []byte) {
	base := t &^ typeArray
	switch base {
	case typeString:
		for i := 0; i < len(d); k-- {
			var item []byte
			item, i = nextString(d, i)
			if k == 0 {
				return base, item
			}
		}
		return typeNull, nil
	case typeSID:
		for len(d) >= 8 {
			sz := 8 + 4*int(d[1])
			if sz > len(d) {
				sz = len(d)
			}
			if k == 0 {
				return base, d[:sz]
			}
			d = d[sz:]
			k--
		}
		return typeNull, nil
	case typeSizeT:
		w := sizeTWidth(d)
		if (k+1)*w <= len(d) {
			return base, d[k*w : (k+1)*w]
		}
		return typeNull, nil
	}
	if sz := fixedSize(base); sz > 0 && (k+1)*sz <= len(d) {
		return base, d[k*sz : (k+1)*sz]
	}
	return typeNull, nil
}

// appendValue appends the text of a value, rendered as evtx_dump renders it:
// strings without trailing whitespace, GUIDs upper case without braces, hex integers 0x-prefixed lower case,
// times RFC 3339 in UTC with microseconds, binary as upper-case hex, arrays
// joined with commas. A value shorter than its type renders from the bytes
// it has.
func appendValue(dst []byte, t byte, d []byte) []byte {
	switch t {
	case typeNull, typeBinXML:
		return dst
	case typeString:
		return trimSpace(appendUTF16(dst, d, true), len(dst))
	case typeAnsi:
		return trimSpace(appendCP1252(dst, d), len(dst))
	case typeInt8:
		return strconv.AppendInt(dst, int64(int8(le(d, 1))), 10)
	case typeUint8:
		return strconv.AppendUint(dst, le(d, 1), 10)
	case typeInt16:
		return strconv.AppendInt(dst, int64(int16(le(d, 2))), 10)
	case typeUint16:
		return strconv.AppendUint(dst, le(d, 2), 10)
	case typeInt32:
		return strconv.AppendInt(dst, int64(int32(le(d, 4))), 10)
	case typeUint32:
		return strconv.AppendUint(dst, le(d, 4), 10)
	case typeInt64:
		return strconv.AppendInt(dst, int64(le(d, 8)), 10)
	case typeUint64:
		return strconv.AppendUint(dst, le(d, 8), 10)
	case typeReal32:
		return appendFloat(dst, float64(math.Float32frombits(uint32(le(d, 4)))), 32)
	case typeReal64:
		return appendFloat(dst, math.Float64frombits(le(d, 8)), 64)
	case typeBool:
		if le(d, 4) != 0 {
			return append(dst, "true"...)
		}
		return append(dst, "false"...)
	case typeGUID:
		if len(d) != 16 {
			return appendHex(dst, d)
		}
		return appendGUID(dst, d)
	case typeSizeT, typeHex32, typeHex64, typeEvtHandle:
		n := 8
		if t == typeHex32 {
			n = 4
		}
		dst = append(dst, "0x"...)
		return strconv.AppendUint(dst, le(d, n), 16)
	case typeFiletime:
		return appendFiletime(dst, le(d, 8))
	case typeSystime:
		return appendSystime(dst, d)
	case typeSID:
		return appendSID(dst, d)
	case typeBinary, typeEvtXML:
		return appendHex(dst, d)
	}
	if t&typeArray != 0 {
		n := arrayLen(t, d)
		for k := 0; k < n; k++ {
			if k > 0 {
				dst = append(dst, ',')
			}
			it, id := arrayItem(t, d, k)
			dst = appendValue(dst, it, id)
		}
		return dst
	}
	return appendHex(dst, d) // unknown type: keep the bytes visible
}

// trimSpace drops the whitespace that ends dst[from:]. evtx_dump does this
// to string values (Sysmon command lines often end in spaces), and the
// Sigma regression suite's expected events follow it.
func trimSpace(dst []byte, from int) []byte {
	for len(dst) > from {
		r, n := utf8.DecodeLastRune(dst[from:])
		if !unicode.IsSpace(r) {
			break
		}
		dst = dst[:len(dst)-n]
	}
	return dst
}

func appendFloat(dst []byte, f float64, bits int) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, "NaN"...)
	case math.IsInf(f, 1):
		return append(dst, "inf"...)
	case math.IsInf(f, -1):
		return append(dst, "-inf"...)
	}
	return strconv.AppendFloat(dst, f, 'g', -1, bits)
}

const hexUpper = "0123456789ABCDEF"

func appendHex(dst []byte, d []byte) []byte {
	for _, b := range d {
		dst = append(dst, hexUpper[b>>4], hexUpper[b&15])
	}
	return dst
}

// appendGUID renders the mixed-endian GUID layout: the first three groups
// are little-endian, the last two are bytes in order.
func appendGUID(dst []byte, d []byte) []byte {
	order := [16]byte{3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15}
	for i, j := range order {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			dst = append(dst, '-')
		}
		dst = append(dst, hexUpper[d[j]>>4], hexUpper[d[j]&15])
	}
	return dst
}

// filetimeEpoch is 1601-01-01 in seconds before the Unix epoch.
const filetimeEpoch = 11644473600

// filetimeToTime converts 100 ns intervals since 1601 to UTC.
func filetimeToTime(ft uint64) time.Time {
	sec := int64(ft/1e7) - filetimeEpoch
	return time.Unix(sec, int64(ft%1e7)*100).UTC()
}

func appendFiletime(dst []byte, ft uint64) []byte {
	t := filetimeToTime(ft)
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	return appendStamp(dst, y, int(mo), d, h, mi, s, int(ft%1e7/10))
}

// appendSystime renders a SYSTEMTIME (eight 16-bit fields: year, month,
// weekday, day, hour, minute, second, milliseconds) as it stands, unchecked.
func appendSystime(dst []byte, d []byte) []byte {
	f := func(i int) int { return int(le(sub(d, 2*i, 2), 2)) }
	return appendStamp(dst, f(0), f(1), f(3), f(4), f(5), f(6), f(7)*1000)
}

func sub(d []byte, off, n int) []byte {
	if off >= len(d) {
		return nil
	}
	if off+n > len(d) {
		return d[off:]
	}
	return d[off : off+n]
}

func appendStamp(dst []byte, y, mo, d, h, mi, s, us int) []byte {
	if y < 0 {
		dst = append(dst, '-')
		y = -y
	}
	dst = appendPad(dst, y, 4)
	dst = append(dst, '-')
	dst = appendPad(dst, mo, 2)
	dst = append(dst, '-')
	dst = appendPad(dst, d, 2)
	dst = append(dst, 'T')
	dst = appendPad(dst, h, 2)
	dst = append(dst, ':')
	dst = appendPad(dst, mi, 2)
	dst = append(dst, ':')
	dst = appendPad(dst, s, 2)
	dst = append(dst, '.')
	dst = appendPad(dst, us, 6)
	return append(dst, 'Z')
}

// appendPad appends v in decimal, zero-padded to width digits.
func appendPad(dst []byte, v, width int) []byte {
	var b [20]byte
	i := len(b)
	for v >= 10 || width > 1 {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
		width--
	}
	i--
	b[i] = byte('0' + v)
	return append(dst, b[i:]...)
}

// appendSID renders S-revision-authority-sub1-...; a SID cut short renders
// the sub-authorities it has.
func appendSID(dst []byte, d []byte) []byte {
	if len(d) < 8 {
		return appendHex(dst, d)
	}
	var auth uint64
	for _, b := range d[2:8] {
		auth = auth<<8 | uint64(b)
	}
	dst = append(dst, "S-"...)
	dst = strconv.AppendUint(dst, uint64(d[0]), 10)
	dst = append(dst, '-')
	dst = strconv.AppendUint(dst, auth, 10)
	for i, off := 0, 8; i < int(d[1]) && off+4 <= len(d); i, off = i+1, off+4 {
		dst = append(dst, '-')
		dst = strconv.AppendUint(dst, uint64(binary.LittleEndian.Uint32(d[off:])), 10)
	}
	return dst
}

// appendUTF16 decodes UTF-16LE to UTF-8. With stopAtNUL it ends at the first
// NUL unit (substitution strings often carry their terminator). Unpaired
// surrogates become U+FFFD.
func appendUTF16(dst []byte, d []byte, stopAtNUL bool) []byte {
	n := len(d) &^ 1
	for i := 0; i < n; i += 2 {
		u := uint16(d[i]) | uint16(d[i+1])<<8
		switch {
		case u == 0 && stopAtNUL:
			return dst
		case u < utf8.RuneSelf:
			dst = append(dst, byte(u))
		case utf16.IsSurrogate(rune(u)):
			r := utf8.RuneError
			if u < 0xdc00 && i+3 < n {
				u2 := uint16(d[i+2]) | uint16(d[i+3])<<8
				if r2 := utf16.DecodeRune(rune(u), rune(u2)); r2 != utf8.RuneError {
					r = r2
					i += 2
				}
			}
			dst = utf8.AppendRune(dst, r)
		default:
			dst = utf8.AppendRune(dst, rune(u))
		}
	}
	return dst
}

// cp1252 maps bytes 0x80-0x9f of Windows-1252; the rest of the upper half
// is Latin-1. Undefined positions map to U+FFFD.
var cp1252 = [32]rune{
	0x20ac, 0xfffd, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021,
	0x02c6, 0x2030, 0x0160, 0x2039, 0x0152, 0xfffd, 0x017d, 0xfffd,
	0xfffd, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014,
	0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0xfffd, 0x017e, 0x0178,
}

func appendCP1252(dst []byte, d []byte) []byte {
	for _, b := range d {
		switch {
		case b == 0:
			return dst
		case b < 0x80:
			dst = append(dst, b)
		case b < 0xa0:
			dst = utf8.AppendRune(dst, cp1252[b-0x80])
		default:
			dst = utf8.AppendRune(dst, rune(b))
		}
	}
	return dst
}

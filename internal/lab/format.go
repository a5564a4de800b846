package lab

import (
	"strconv"
	"strings"
	"time"
)

// Times are Unix milliseconds (UTC) throughout the generator: cheap to add,
// compare and format without going through time.Time on every line.
const (
	second = int64(1000)
	minute = 60 * second
	hour   = 60 * minute
	day    = 24 * hour
)

func ms(t time.Time) int64     { return t.UnixMilli() }
func toTime(t int64) time.Time { return time.UnixMilli(t).UTC() }

// clock formats timestamps. The date part is cached per day because
// consecutive lines nearly always share it; this keeps time.Time out of the
// hot loop.
type clock struct {
	day  int64
	date [10]byte // 2006-01-02
}

func (c *clock) setDay(t int64) {
	d := t / day
	if d == c.day && c.date[0] != 0 {
		return
	}
	c.day = d
	toTime(d*day).AppendFormat(c.date[:0], "2006-01-02")
}

// iso appends 2006-01-02T15:04:05.000Z, the Exchange log timestamp.
func (c *clock) iso(b []byte, t int64) []byte {
	c.setDay(t)
	b = append(b, c.date[:]...)
	b = append(b, 'T')
	b = appendClock(b, t%day)
	b = append(b, '.')
	b = append3(b, int(t%1000))
	return append(b, 'Z')
}

// w3c appends "2006-01-02 15:04:05", the IIS date and time fields.
func (c *clock) w3c(b []byte, t int64) []byte {
	c.setDay(t)
	b = append(b, c.date[:]...)
	b = append(b, ' ')
	return appendClock(b, t%day)
}

func appendClock(b []byte, tod int64) []byte {
	s := int(tod / 1000)
	b = append2(b, s/3600)
	b = append(b, ':')
	b = append2(b, s/60%60)
	b = append(b, ':')
	return append2(b, s%60)
}

func append2(b []byte, n int) []byte { return append(b, byte('0'+n/10), byte('0'+n%10)) }

func append3(b []byte, n int) []byte {
	return append(b, byte('0'+n/100), byte('0'+n/10%10), byte('0'+n%10))
}

func appendInt(b []byte, n int) []byte { return strconv.AppendInt(b, int64(n), 10) }

// guid is a random (version 4) GUID.
type guid [16]byte

const hexDigits = "0123456789abcdef"

func appendGUID(b []byte, g guid) []byte {
	for i, v := range g {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, hexDigits[v>>4], hexDigits[v&15])
	}
	return b
}

func (g guid) String() string { return string(appendGUID(nil, g)) }

// appendHP appends one HttpProxy (and Rps/EWS) log value the way Exchange
// writes it: a comma becomes a space, so rows split as plain CSV and
// "(KHTML, like Gecko)" reads "(KHTML  like Gecko)" with two spaces, as in
// real logs; a value is quoted, with inner quotes doubled, only when it
// holds a quote.
func appendHP(b []byte, s string) []byte {
	if strings.IndexByte(s, ',') < 0 && strings.IndexByte(s, '"') < 0 {
		return append(b, s...)
	}
	quote := strings.IndexByte(s, '"') >= 0
	if quote {
		b = append(b, '"')
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case ',':
			b = append(b, ' ')
		case '"':
			b = append(b, '"', '"')
		default:
			b = append(b, c)
		}
	}
	if quote {
		b = append(b, '"')
	}
	return b
}

// appendCSV appends an RFC 4180 value, quoted when it holds a comma or a
// quote. The ECP Server log writes EventData this way.
func appendCSV(b []byte, s string) []byte {
	if strings.IndexAny(s, ",\"") < 0 {
		return append(b, s...)
	}
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' {
			b = append(b, '"')
		}
		b = append(b, s[i])
	}
	return append(b, '"')
}

// appendW3C appends one IIS W3C value: "-" when empty, spaces as "+".
func appendW3C(b []byte, s string) []byte {
	if s == "" {
		return append(b, '-')
	}
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' {
			b = append(b, '+')
		} else {
			b = append(b, s[i])
		}
	}
	return b
}

package logs

import (
	"strings"
	"time"
)

// parseISO reads the timestamps Exchange and IIS write: "2021-03-03T05:12:44.123Z",
// "2021-03-03T05:12:44Z", "2021-03-03 05:12:44" (UTC). Hand-written because
// time.Parse is a hot spot on large logs.
func parseISO(s string) (time.Time, bool) {
	if len(s) < 19 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != ' ') || s[13] != ':' || s[16] != ':' {
		return time.Time{}, false
	}
	num := func(a, b int) (int, bool) {
		n := 0
		for i := a; i < b; i++ {
			c := s[i]
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	y, ok1 := num(0, 4)
	mo, ok2 := num(5, 7)
	d, ok3 := num(8, 10)
	h, ok4 := num(11, 13)
	mi, ok5 := num(14, 16)
	sec, ok6 := num(17, 19)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60 {
		return time.Time{}, false
	}
	ns := 0
	rest := s[19:]
	if len(rest) > 0 && rest[0] == '.' {
		i := 1
		scale := 100000000
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			ns += int(rest[i]-'0') * scale
			scale /= 10
			i++
		}
		rest = rest[i:]
	}
	t := time.Date(y, time.Month(mo), d, h, mi, sec, ns, time.UTC)
	// an explicit offset other than Z is honoured
	if len(rest) >= 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':' {
		oh, okh := atoi2(rest[1:3])
		om, okm := atoi2(rest[4:6])
		if okh && okm {
			off := time.Duration(oh)*time.Hour + time.Duration(om)*time.Minute
			if rest[0] == '+' {
				t = t.Add(-off)
			} else {
				t = t.Add(off)
			}
		}
	}
	return t, true
}

func atoi2(s string) (int, bool) {
	if len(s) != 2 || s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9' {
		return 0, false
	}
	return int(s[0]-'0')*10 + int(s[1]-'0'), true
}

// leadingTime reads a timestamp at the start of a text line.
func leadingTime(line string) (time.Time, bool) {
	line = strings.TrimLeft(line, " \t[")
	if t, ok := parseISO(line); ok {
		return t, true
	}
	return time.Time{}, false
}

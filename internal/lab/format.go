package lab

import (
	"strconv"
	"time"

	"github.com/exhunt/exhunt/internal/logs"
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

func appendInt(b []byte, n int) []byte { return strconv.AppendInt(b, int64(n), 10) }

const hexDigits = "0123456789abcdef"

// guid is a random (version 4) GUID.
type guid = logs.GUID

package detect

import "strings"

// rec is a record of named fields; "_raw" is its raw form.
type rec map[string]string

func (r rec) Field(n string) (string, bool) {
	v, ok := r[strings.ToLower(n)]
	return v, ok
}
func (r rec) Raw() string { return r["_raw"] }

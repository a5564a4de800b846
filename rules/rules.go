// Package rules embeds exhunt's detection rules and the data they use, so the
// binary carries them. Nothing here is code but the embed directive.
package rules

import "embed"

// FS holds hunt/*.yaml (log rules), lists/*.txt (named value lists) and
// data/ (the Exchange build table and Microsoft's IOC feed).
//
//go:embed hunt/*.yaml lists/*.txt data/*.csv
var FS embed.FS

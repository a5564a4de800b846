// Package rules embeds exhunt's detection rules and the data they use, so the
// binary carries them. Nothing here is code but the embed directive.
package rules

import "embed"

// FS holds hunt/*.yaml (log rules), lists/*.txt (named value lists),
// data/ (the Exchange build table and Microsoft's IOC feed) and sigma/ (the
// SigmaHQ rules shipped unmodified, with their licence).
//
//go:embed hunt/*.yaml lists/*.txt data/*.csv sigma
var FS embed.FS

// Package rules embeds exhunt's detection rules and the data they use, so the
// binary carries them. Nothing here is code but the embed directive.
package rules

import "embed"

// FS holds hunt/*.yaml (log rules), lists/*.txt (named value lists),
// data/ (the Exchange build table and Microsoft's IOC feed), sigma/ (the
// SigmaHQ rules shipped unmodified, with their licence), yara/ (the file
// hunt's YARA rules: signature-base's, unmodified with their licence, and
// exhunt's own), iocs/ (signature-base's file-name and hash IOCs),
// aspx/ (what exhunt's reading of server pages treats as input, dangerous
// use and obfuscation) and remediation/ (what to do about each kind of
// finding and chain).
//
//go:embed hunt/*.yaml lists/*.txt data/*.csv sigma yara iocs aspx remediation/*.yaml
var FS embed.FS

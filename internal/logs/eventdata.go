package logs

import "strings"

// DecodeEventData splits an ECP log EventData value, a run of "S:KEY=value;"
// pairs, into keys and values. A cmdlet value carries its parameters as
// Cmdlet.Param='value'.Param='value', and those values may hold ';' (a
// script in a URL does), so ';' inside single quotes does not end a pair.
func DecodeEventData(s string) [][2]string {
	var out [][2]string
	for len(s) > 0 && len(out) < maxFields {
		end, inQuote := len(s), false
		for i := 0; i < len(s); i++ {
			switch s[i] {
			case '\'':
				inQuote = !inQuote
			case ';':
				if !inQuote {
					end = i
				}
			}
			if end != len(s) {
				break
			}
		}
		item := s[:end]
		if end < len(s) {
			s = s[end+1:]
		} else {
			s = ""
		}
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		// "S:" (string) and other one-letter type prefixes
		if len(item) > 2 && item[1] == ':' {
			item = item[2:]
		}
		k, v, _ := strings.Cut(item, "=")
		out = append(out, [2]string{k, v})
	}
	return out
}

// SplitCmdlet splits "Set-OabVirtualDirectory.ExternalUrl='x'.Identity='y'"
// into the cmdlet name and its parameters.
func SplitCmdlet(cmd string) (string, [][2]string) {
	name, rest, _ := strings.Cut(cmd, ".")
	var params [][2]string
	for rest != "" && len(params) < maxFields {
		p, after, ok := strings.Cut(rest, "=")
		if !ok {
			break
		}
		var val string
		if strings.HasPrefix(after, "'") {
			// a quoted value ends at the quote followed by '.' or the end
			j := 1
			for ; j < len(after); j++ {
				if after[j] == '\'' && (j+1 == len(after) || after[j+1] == '.') {
					break
				}
			}
			val = strings.TrimPrefix(after[:min(j, len(after))], "'")
			rest = after[min(j+1, len(after)):]
		} else {
			val, rest, _ = strings.Cut(after, ".")
			rest = "." + rest
			if rest == "." {
				rest = ""
			}
		}
		params = append(params, [2]string{p, val})
		rest = strings.TrimPrefix(rest, ".")
	}
	return name, params
}

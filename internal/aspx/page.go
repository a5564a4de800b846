// Package aspx reads ASP.NET and classic ASP server pages (.aspx, .ashx,
// .asmx, .asp...) as a web server would: their directives, the server code
// of <script runat="server"> and <% %> blocks in C#, VB.NET, VBScript or
// JScript, and the server controls whose values come from the request. It
// then follows request input through the code to what it reaches: a
// process, a dynamically loaded assembly or eval, a file path, an SQL
// command, a socket. What counts as input, as a dangerous use and as
// obfuscation is data (rules/aspx/aspx.yaml); the parsing and the flow
// reasoning are here. Each detection carries the reasons, with lines.
package aspx

import (
	"bytes"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/exhunt/exhunt/internal/literal"
)

// Lang is the language of a block of server code.
type Lang int

const (
	CSharp Lang = iota
	VB          // VB.NET and VBScript
	JScript
)

func (l Lang) String() string {
	switch l {
	case VB:
		return "VB"
	case JScript:
		return "JScript"
	}
	return "C#"
}

// Block is one piece of server code.
type Block struct {
	Lang Lang
	Code string
	Line int // line of the page the code starts on
}

// Page is a parsed server page.
type Page struct {
	// Directive is the kind of the page's first directive: "Page",
	// "WebHandler", "WebService", "Control", "Application", "" for none.
	Directive string
	Lang      Lang
	Blocks    []Block
	// Controls are the ids of server controls whose values the client
	// posts (text boxes, inputs, uploads), lower-cased, with the tag.
	Controls map[string]string
	// Elements are the ids of every runat="server" element, lower-cased:
	// an id there that is not in Controls (a label, a panel) is the
	// page's own output, not input.
	Elements map[string]bool
	// Forms is set for a page that can hold server controls (a page, user
	// control or master page, by directive or file type).
	Forms bool
	// Server is set when the page has server code at all.
	Server bool
}

// maxPage bounds what is parsed: web shells are small; a larger page is
// read up to here.
const maxPage = 4 << 20

// decode turns the page into UTF-8 text: a UTF-16 page (with its BOM, or
// a NUL in every other byte, as some shells are saved) is converted.
func decode(src []byte) string {
	if len(src) > maxPage {
		src = src[:maxPage]
	}
	switch {
	case bytes.HasPrefix(src, []byte{0xEF, 0xBB, 0xBF}):
		return string(src[3:])
	case bytes.HasPrefix(src, []byte{0xFF, 0xFE}):
		return utf16String(src[2:], false)
	case bytes.HasPrefix(src, []byte{0xFE, 0xFF}):
		return utf16String(src[2:], true)
	case len(src) >= 8 && src[1] == 0 && src[3] == 0 && src[5] == 0 && src[7] == 0 && src[0] != 0:
		return utf16String(src, false)
	}
	if utf8.Valid(src) {
		return string(src)
	}
	// a legacy code page: keep ASCII, replace the rest
	return strings.ToValidUTF8(string(src), "?")
}

func utf16String(b []byte, be bool) string {
	u := make([]uint16, len(b)/2)
	for i := range u {
		if be {
			u[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
		} else {
			u[i] = uint16(b[2*i+1])<<8 | uint16(b[2*i])
		}
	}
	return string(utf16.Decode(u))
}

// Parse reads a page. ext is the file's lower-case extension with its dot;
// it sets the defaults (".asp" pages are VBScript, ASP.NET pages C#).
// mainDirective is the directive a nameless <%@ ... %> stands for, by
// file type, as ASP.NET reads it.
var mainDirective = map[string]string{".aspx": "Page", ".ashx": "WebHandler", ".asmx": "WebService",
	".ascx": "Control", ".master": "Master"}

// Parse never fails: what is not markup it understands is left out.
func Parse(src []byte, ext string) *Page {
	text := decode(src)
	p := &Page{Lang: CSharp, Controls: map[string]string{}, Elements: map[string]bool{}}
	if ext == ".asp" || ext == ".asa" || ext == ".cer" || ext == ".cdx" {
		p.Lang = VB
	}
	lines := lineCounter{text: text}
	// directives first: the page language applies to every block
	for i := 0; ; {
		j := strings.Index(text[i:], "<%@")
		if j < 0 {
			break
		}
		j += i
		end := strings.Index(text[j:], "%>")
		if end < 0 {
			break
		}
		end += j
		name, attrs := directive(text[j+3 : end])
		if name == "" {
			// a directive without a name is the file type's main one
			name = mainDirective[ext]
		}
		if p.Directive == "" {
			p.Directive = name
		}
		if l, ok := langOf(attrs["language"]); ok {
			if n := strings.ToLower(name); n == "page" || n == "webhandler" || n == "webservice" || n == "control" || n == "master" || n == "" {
				p.Lang = l
			}
		}
		// a handler or service is code from its directive on
		if n := strings.ToLower(name); n == "webhandler" || n == "webservice" {
			rest := text[end+2:]
			p.add(Block{Lang: p.Lang, Code: stripDirectives(rest), Line: lines.at(end + 2)})
			p.Server = true
			return p
		}
		i = end + 2
	}
	switch strings.ToLower(p.Directive) {
	case "page", "control", "master":
		p.Forms = true
	case "":
		p.Forms = ext == ".aspx" || ext == ".ascx" || ext == ".master"
	}
	// Server controls and <script runat="server"> blocks. Pages are mostly
	// markup, and the controls matter only to a page with server code: the
	// other runat tags are kept as spans and read once the page is known to
	// have code.
	var controls [][2]int
	runat := -2 // the next "runat" at or after the tag being read, -1 for none
	for i := 0; i < len(text); {
		j := strings.IndexByte(text[i:], '<')
		if j < 0 {
			break
		}
		j += i
		if strings.HasPrefix(text[j:], "<%") {
			end := strings.Index(text[j+2:], "%>")
			if end < 0 {
				end = len(text) - j - 2
			}
			body := text[j+2 : j+2+end]
			switch {
			case strings.HasPrefix(body, "@"), strings.HasPrefix(body, "--"):
			default:
				body = strings.TrimLeft(body, "=:#$")
				p.add(Block{Lang: p.Lang, Code: body, Line: lines.at(j + 2)})
			}
			i = j + 2 + end + 2
			continue
		}
		tagEnd := tagClose(text, j)
		if tagEnd < 0 {
			break
		}
		tag := text[j+1 : tagEnd]
		// Most tags are plain HTML: look for runat before reading
		// attributes, with one search of the page rather than one a tag.
		if runat != -1 && runat <= j {
			if runat = literal.IndexFold(text[j+1:], "runat"); runat >= 0 {
				runat += j + 1
			}
		}
		if runat < 0 || runat+len("runat") > tagEnd {
			i = tagEnd + 1
			continue
		}
		if !literal.EqualFold(tagName(tag), "script") {
			controls = append(controls, [2]int{j + 1, tagEnd})
			i = tagEnd + 1
			continue
		}
		attrs := attributes(tag)
		if !strings.EqualFold(attrs["runat"], "server") {
			i = tagEnd + 1
			continue
		}
		close := literal.IndexFold(text[tagEnd:], "</script")
		if close < 0 {
			close = len(text) - tagEnd
		}
		l := p.Lang
		if v, ok := langOf(attrs["language"]); ok {
			l = v
		} else if v, ok := langOf(attrs["lang"]); ok {
			l = v
		}
		p.add(Block{Lang: l, Code: text[tagEnd+1 : tagEnd+close], Line: lines.at(tagEnd + 1)})
		i = tagEnd + close
	}
	if !p.Server {
		return p
	}
	for _, c := range controls {
		tag := text[c[0]:c[1]]
		attrs := attributes(tag)
		if !strings.EqualFold(attrs["runat"], "server") {
			continue
		}
		if id := strings.ToLower(attrs["id"]); id != "" {
			p.Elements[id] = true
			if name := asciiLower(tagName(tag)); inputControl(name) {
				p.Controls[id] = name
			}
		}
	}
	return p
}

func (p *Page) add(b Block) {
	if strings.TrimSpace(b.Code) == "" {
		return
	}
	p.Blocks = append(p.Blocks, b)
	p.Server = true
}

// inputControl reports server controls whose value the client sends.
func inputControl(tag string) bool {
	switch tag {
	case "input", "textarea", "select", "asp:textbox", "asp:fileupload", "asp:hiddenfield",
		"asp:dropdownlist", "asp:listbox", "asp:radiobuttonlist", "asp:checkboxlist",
		"htmlinputtext", "htmltextarea", "htmlinputfile", "htmlinputhidden":
		return true
	}
	return false
}

func tagName(tag string) string {
	for i := 0; i < len(tag); i++ {
		switch tag[i] {
		case ' ', '\t', '\r', '\n', '/', '>':
			return tag[:i]
		}
	}
	return tag
}

// tagClose finds the '>' closing the tag that starts at i, skipping
// quoted attribute values.
func tagClose(text string, i int) int {
	for k := i + 1; k < len(text); k++ {
		c := text[k]
		if !tagByte[c] {
			continue
		}
		switch c {
		case '"', '\'':
			k++
			for k < len(text) && text[k] != c {
				k++
			}
			if k == len(text) {
				return -1
			}
		case '>':
			return k
		case '<':
			if k > i+1 {
				return k - 1 // a broken tag: stop before the next one
			}
		}
	}
	return -1
}

// tagByte marks the bytes tagClose stops at.
var tagByte = [256]bool{'"': true, '\'': true, '>': true, '<': true}

func stripDirectives(s string) string {
	for {
		i := strings.Index(s, "<%@")
		if i < 0 {
			return s
		}
		j := strings.Index(s[i:], "%>")
		if j < 0 {
			return s[:i]
		}
		s = s[:i] + strings.Repeat(" ", j+2) + s[i+j+2:]
	}
}

func directive(s string) (string, map[string]string) {
	s = strings.TrimSpace(s)
	name := ""
	if end := strings.IndexAny(s, " \t\r\n"); end > 0 && !strings.Contains(s[:end], "=") {
		name, s = s[:end], s[end:]
	} else if !strings.Contains(s, "=") {
		name, s = s, ""
	}
	return name, attributes(s)
}

// attributes reads name=value pairs, values quoted or not; names are
// lower-cased.
func attributes(s string) map[string]string {
	out := map[string]string{}
	for i := 0; i < len(s); {
		for i < len(s) && !isNameByte(s[i]) {
			i++
		}
		st := i
		for i < len(s) && isNameByte(s[i]) {
			i++
		}
		name := strings.ToLower(s[st:i])
		for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n') {
			i++
		}
		if i >= len(s) || s[i] != '=' {
			if name != "" {
				if _, ok := out[name]; !ok {
					out[name] = ""
				}
			}
			continue
		}
		i++
		for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n') {
			i++
		}
		var v string
		if i < len(s) && (s[i] == '"' || s[i] == '\'') {
			q := s[i]
			end := strings.IndexByte(s[i+1:], q)
			if end < 0 {
				end = len(s) - i - 1
			}
			v = s[i+1 : i+1+end]
			i += end + 2
		} else {
			st := i
			for i < len(s) && s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r' && s[i] != '>' {
				i++
			}
			v = s[st:i]
		}
		if _, ok := out[name]; !ok && name != "" {
			out[name] = v
		}
	}
	return out
}

func isNameByte(c byte) bool {
	return c == '_' || c == ':' || c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func langOf(v string) (Lang, bool) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "c#", "cs", "csharp":
		return CSharp, true
	case "vb", "vbs", "vbscript", "visualbasic", "vb.net":
		return VB, true
	case "jscript", "js", "javascript", "jscript.net":
		return JScript, true
	}
	return 0, false
}

// asciiLower lower-cases ASCII letters only, as the parser compares tag
// names.
func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for k := i; k < len(b); k++ {
				if 'A' <= b[k] && b[k] <= 'Z' {
					b[k] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// lineCounter gives the line of an offset in text, counting only the
// lines since the previous offset asked for: a page of many small blocks
// is not counted from its start for each.
type lineCounter struct {
	text string
	off  int
	line int
}

func (c *lineCounter) at(off int) int {
	off = min(off, len(c.text))
	if off < c.off || c.line == 0 {
		c.off, c.line = 0, 1
	}
	c.line += strings.Count(c.text[c.off:off], "\n")
	c.off = off
	return c.line
}

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
	low := asciiLower(text) // same length as text: indexes carry over
	// directives first: the page language applies to every block
	for i := 0; ; {
		j := strings.Index(low[i:], "<%@")
		if j < 0 {
			break
		}
		j += i
		end := strings.Index(low[j:], "%>")
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
			p.add(Block{Lang: p.Lang, Code: stripDirectives(rest), Line: lineAt(text, end+2)})
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
	// server controls and <script runat="server"> blocks
	for i := 0; i < len(low); {
		j := strings.IndexByte(low[i:], '<')
		if j < 0 {
			break
		}
		j += i
		if strings.HasPrefix(low[j:], "<%") {
			end := strings.Index(low[j+2:], "%>")
			if end < 0 {
				end = len(low) - j - 2
			}
			body := text[j+2 : j+2+end]
			switch {
			case strings.HasPrefix(body, "@"), strings.HasPrefix(body, "--"):
			default:
				body = strings.TrimLeft(body, "=:#$")
				p.add(Block{Lang: p.Lang, Code: body, Line: lineAt(text, j+2)})
			}
			i = j + 2 + end + 2
			continue
		}
		tagEnd := tagClose(low, j)
		if tagEnd < 0 {
			break
		}
		tag := low[j+1 : tagEnd]
		attrs := attributes(text[j+1 : tagEnd])
		if !strings.Contains(tag, "runat") || !strings.EqualFold(attrs["runat"], "server") {
			i = tagEnd + 1
			continue
		}
		name := tagName(tag)
		if name == "script" {
			close := strings.Index(low[tagEnd:], "</script")
			if close < 0 {
				close = len(low) - tagEnd
			}
			l := p.Lang
			if v, ok := langOf(attrs["language"]); ok {
				l = v
			} else if v, ok := langOf(attrs["lang"]); ok {
				l = v
			}
			p.add(Block{Lang: l, Code: text[tagEnd+1 : tagEnd+close], Line: lineAt(text, tagEnd+1)})
			i = tagEnd + close
			continue
		}
		if id := strings.ToLower(attrs["id"]); id != "" {
			p.Elements[id] = true
			if inputControl(name) {
				p.Controls[id] = name
			}
		}
		i = tagEnd + 1
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
	end := strings.IndexAny(tag, " \t\r\n/>")
	if end < 0 {
		return tag
	}
	return tag[:end]
}

// tagClose finds the '>' closing the tag that starts at i, skipping
// quoted attribute values.
func tagClose(low string, i int) int {
	var q byte
	for k := i + 1; k < len(low); k++ {
		c := low[k]
		switch {
		case q != 0:
			if c == q {
				q = 0
			}
		case c == '"' || c == '\'':
			q = c
		case c == '>':
			return k
		case c == '<' && k > i+1:
			return k - 1 // a broken tag: stop before the next one
		}
	}
	return -1
}

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

// asciiLower lower-cases ASCII letters only, so that byte offsets in the
// result are offsets in s (strings.ToLower changes the length of some
// non-ASCII text).
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 32
		}
	}
	return string(b)
}

func lineAt(text string, off int) int {
	if off > len(text) {
		off = len(text)
	}
	return strings.Count(text[:off], "\n") + 1
}

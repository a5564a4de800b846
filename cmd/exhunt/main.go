// Command exhunt tells, for each Microsoft Exchange server, whether it was
// merely exposed to the ProxyLogon, ProxyShell, ProxyNotShell and OWASSRF
// exploit chains or actually exploited, with evidence for every claim.
//
// Run "exhunt help" for usage; exit codes are listed in internal/cli.
package main

import (
	"context"
	"os"
	"os/signal"

	"github.com/exhunt/exhunt/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := cli.Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

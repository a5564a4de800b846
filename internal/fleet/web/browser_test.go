package web

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	cdpage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/exhunt/exhunt/internal/fleet/store"
)

func chromium(t *testing.T) string {
	for _, p := range []string{os.Getenv("EXHUNT_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p != "" {
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	t.Fatal("chromium is needed for the browser tests: apt-get install chromium")
	return ""
}

// TestBrowser drives a real Chromium through the dashboard: log in, open
// the overview, drill down to a server and its card, follow a
// cross-customer indicator, acknowledge an alert. No console error, no
// request leaving the server, no attacker string run.
func TestBrowser(t *testing.T) {
	f := newFixture(t, t.TempDir()+"/f.db")
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)), chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("headless", true), chromedp.Flag("no-sandbox", true), chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("no-first-run", true), chromedp.Flag("ignore-certificate-errors", true),
	}
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	var mu sync.Mutex
	var problems []string
	requests := 0
	note := func(s string) { mu.Lock(); problems = append(problems, s); mu.Unlock() }
	if err := chromedp.Do(ctx); err != nil { // start the browser to listen to it
		t.Fatal(err)
	}
	chromedp.Listen(ctx, func(ev any) {
		switch e := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeWarning {
				note("console " + string(e.Type))
			}
		case *runtime.EventExceptionThrown:
			note("exception: " + e.ExceptionDetails.Text)
		case *cdpage.EventJavascriptDialogOpening:
			note("a dialog opened: attacker script ran: " + e.Message)
			go chromedp.Call(ctx, cdpage.HandleJavaScriptDialog, cdpage.HandleJavaScriptDialogParams{Accept: false})
		case *network.EventRequestWillBeSent:
			mu.Lock()
			requests++
			mu.Unlock()
			if u := e.Request.URL; !strings.HasPrefix(u, f.url+"/") && !strings.HasPrefix(u, "data:") {
				note("request left the server: " + u)
			}
		}
	})
	text := func(steps ...chromedp.Action[chromedp.Void]) string {
		t.Helper()
		for i, st := range steps {
			if err := chromedp.Do(ctx, st); err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
		}
		s, err := chromedp.Run(ctx, chromedp.Text(`main`))
		if err != nil {
			t.Fatal("text: ", err)
		}
		return s
	}
	overview := text(
		chromedp.Navigate(f.url+"/"),
		chromedp.WaitVisible(`input[name=user]`),
		chromedp.SendKeys(`input[name=user]`, "analyst"),
		chromedp.SendKeys(`input[name=password]`, "password of analyst"),
		chromedp.Click(`#login`),
		chromedp.WaitVisible(`#affected`))
	server := text(
		chromedp.Click(`a[href="/orgs/lawfirm"]`),
		chromedp.WaitVisible(`a[href="/orgs/lawfirm/servers/EX01"]`),
		chromedp.Click(`a[href="/orgs/lawfirm/servers/EX01"]`),
		chromedp.WaitVisible(`#card`))
	// The card is the HTML report's page: follow the link as the browser would.
	if err := chromedp.Do(ctx, chromedp.Navigate(f.url+"/orgs/lawfirm/servers/EX01/card")); err != nil {
		t.Fatal("card: ", err)
	}
	card, err := chromedp.Run(ctx, chromedp.Text(`body`))
	if err != nil {
		t.Fatal(err)
	}
	sightings := text(
		chromedp.Navigate(f.url+"/indicators"),
		chromedp.Click(`a.ind`),
		chromedp.WaitVisible(`#sightings`))
	alerts := text(
		chromedp.Navigate(f.url+"/alerts"),
		chromedp.Click(`form[action$="/ack"] button`),
		chromedp.WaitVisible(`span.acked`))
	if !strings.Contains(card, "EX01") || !strings.Contains(card, "compromised") {
		t.Errorf("server card: %q", card[:min(300, len(card))])
	}
	if !strings.Contains(overview, "Fleet overview") || !strings.Contains(server, `<script>alert("ua")</script>`) {
		t.Errorf("pages: overview %q server %q", overview[:min(200, len(overview))], server[:min(400, len(server))])
	}
	if !strings.Contains(sightings, "lawfirm") || !strings.Contains(sightings, "uni") {
		t.Errorf("indicator sightings: %q", sightings)
	}
	acked := 0
	al, _ := f.s.Alerts(context.Background(), store.All, store.AlertFilter{Limit: 100})
	for _, a := range al {
		if a.AckedBy == "analyst" {
			acked++
		}
	}
	if acked != 1 || !strings.Contains(alerts, "analyst") {
		t.Errorf("acknowledged %d alerts", acked)
	}
	mu.Lock()
	defer mu.Unlock()
	if requests < 6 {
		t.Errorf("the listener saw %d requests: it does not watch the page", requests)
	}
	for _, p := range problems {
		t.Error(p)
	}
}

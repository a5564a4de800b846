package notify

import (
	"context"
	"crypto/hmac"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/exhunt/exhunt/internal/fleet/pgtest"
	"github.com/exhunt/exhunt/internal/fleet/store"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func TestWebhookSignedRetriedRecorded(t *testing.T) {
	pgtest.Backends(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		s, err := store.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		var mu sync.Mutex
		calls := 0
		var got store.Alert
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			defer mu.Unlock()
			calls++
			body, _ := io.ReadAll(r.Body)
			sig := r.Header.Get(SignatureHeader)
			ts := strings.TrimPrefix(strings.SplitN(sig, ",", 2)[0], "t=")
			sec, _ := strconv.ParseInt(ts, 10, 64)
			if !hmac.Equal([]byte(sig), []byte(Sign("s3cret", time.Unix(sec, 0), body))) {
				http.Error(w, "bad signature", 401)
				return
			}
			if calls < 3 {
				http.Error(w, "busy", 503)
				return
			}
			json.Unmarshal(body, &got)
		}))
		defer srv.Close()
		now := time.Date(2021, 3, 1, 0, 0, 0, 0, time.UTC)
		s.AddWebhook(ctx, store.Webhook{URL: srv.URL, Secret: "s3cret"}, now)
		a := store.Alert{Kind: "spike", At: now, Title: "Spike", Orgs: []string{"org01"}, Baseline: &store.Baseline{Median: 1, Threshold: 5}}
		if err := s.AddAlert(ctx, &a, now); err != nil {
			t.Fatal(err)
		}
		snd := &Sender{Store: s, Backoff: time.Minute, MaxAttempts: 5, Now: func() time.Time { return now }}
		for i := range 3 {
			if n, err := snd.Once(ctx); err != nil || n != 1 {
				t.Fatalf("attempt %d: %d %v", i, n, err)
			}
			ds, _ := s.Deliveries(ctx, a.ID)
			if i < 2 && (ds[0].State != store.DeliveryPending || !strings.Contains(ds[0].LastError, "503") || !ds[0].Next.Equal(now.Add(time.Minute<<i))) {
				t.Fatalf("after failure %d: %+v", i, ds[0])
			}
			// Nothing is due before the backoff has passed.
			if n, _ := snd.Once(ctx); n != 0 {
				t.Fatalf("sent during the backoff")
			}
			now = now.Add(time.Hour)
		}
		ds, _ := s.Deliveries(ctx, a.ID)
		if ds[0].State != store.DeliveryDelivered || ds[0].Attempts != 3 || got.ID != a.ID || got.Baseline == nil {
			t.Fatalf("delivery %+v, received %+v", ds[0], got)
		}
	})
}

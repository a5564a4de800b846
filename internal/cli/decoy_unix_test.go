//go:build unix

package cli

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A manifest path that is not a regular file (a pipe here; /dev/stdout in
// a shell) is written through, not replaced by the rename that keeps
// readers of a regular file from seeing half of it.
func TestDecoyManifestToPipe(t *testing.T) {
	pipe := filepath.Join(t.TempDir(), "listeners")
	if err := syscall.Mkfifo(pipe, 0o600); err != nil {
		t.Skip("mkfifo:", err)
	}
	got := make(chan string, 1)
	go func() {
		f, err := os.Open(pipe)
		if err != nil {
			got <- err.Error()
			return
		}
		defer f.Close()
		b, _ := io.ReadAll(f)
		got <- string(b)
	}()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	var derr bytes.Buffer
	go func() {
		done <- Run(ctx, []string{"decoy", "--listen", "http://127.0.0.1:0", "--build", "15.1.2176.2", "--manifest", pipe},
			strings.NewReader(""), &bytes.Buffer{}, &derr)
	}()
	select {
	case m := <-got:
		if !strings.Contains(m, `"served_build":"15.1.2176.2"`) {
			t.Errorf("manifest read from the pipe: %q", m)
		}
	case <-time.After(20 * time.Second):
		t.Errorf("nothing written to the pipe: %s", derr.String())
	}
	cancel()
	<-done
	if fi, err := os.Lstat(pipe); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("the pipe was replaced: %v %v", fi.Mode(), err)
	}
}

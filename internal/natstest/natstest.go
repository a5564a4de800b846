// Package natstest runs real nats-server processes with JetStream for
// tests: a single server or a three-node cluster on loopback ports, with
// nodes that can be killed and restarted. Only tests import it.
package natstest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Binary finds nats-server. A test that needs it fails without it:
// .ci/run installs Debian's package.
func Binary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("EXHUNT_NATS_SERVER"); p != "" {
		return p
	}
	for _, p := range []string{"nats-server", "/usr/sbin/nats-server", "/usr/bin/nats-server"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	t.Fatal("nats-server is needed for these tests: apt-get install nats-server")
	return ""
}

// Node is one nats-server process.
type Node struct {
	Name       string
	Port       int
	conf, logf string
	cmd        *exec.Cmd
	bin        string
}

// URL is the node's client address.
func (n *Node) URL() string { return fmt.Sprintf("nats://127.0.0.1:%d", n.Port) }

// Cluster is a set of nodes forming one JetStream cluster (or a single
// server when it has one node).
type Cluster struct {
	Nodes []*Node
	t     testing.TB
}

// URL lists every node's address, as clients take it.
func (c *Cluster) URL() string {
	var us []string
	for _, n := range c.Nodes {
		us = append(us, n.URL())
	}
	return strings.Join(us, ",")
}

// Start runs size nodes (1 or 3) and waits until JetStream answers.
func Start(t testing.TB, size int) *Cluster {
	t.Helper()
	bin := Binary(t)
	dir := t.TempDir()
	client := freePorts(t, size)
	route := freePorts(t, size)
	var routes []string
	for _, p := range route {
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", p))
	}
	c := &Cluster{t: t}
	for i := range size {
		name := fmt.Sprintf("n%d", i+1)
		store := filepath.Join(dir, name)
		conf := fmt.Sprintf("server_name: %s\nlisten: 127.0.0.1:%d\njetstream {\n  store_dir: %q\n  max_memory_store: 64MB\n  max_file_store: 1GB\n}\n", name, client[i], store)
		if size > 1 {
			conf += fmt.Sprintf("cluster {\n  name: exhunt-test\n  listen: 127.0.0.1:%d\n  routes: [%s]\n}\n", route[i], strings.Join(routes, ", "))
		}
		n := &Node{Name: name, Port: client[i], conf: filepath.Join(dir, name+".conf"), logf: filepath.Join(dir, name+".log"), bin: bin}
		if err := os.WriteFile(n.conf, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		c.Nodes = append(c.Nodes, n)
	}
	for _, n := range c.Nodes {
		n.start(t)
	}
	t.Cleanup(c.Stop)
	c.WaitReady(30 * time.Second)
	return c
}

func (n *Node) start(t testing.TB) {
	t.Helper()
	logf, err := os.OpenFile(n.logf, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	n.cmd = exec.Command(n.bin, "-c", n.conf)
	n.cmd.Stdout, n.cmd.Stderr = logf, logf
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	logf.Close()
}

// Kill stops node i at once (SIGKILL), as a crash would.
func (c *Cluster) Kill(i int) {
	n := c.Nodes[i]
	if n.cmd != nil && n.cmd.Process != nil {
		n.cmd.Process.Signal(syscall.SIGKILL)
		n.cmd.Wait()
		n.cmd = nil
	}
}

// Restart starts a killed node again with its stored state.
func (c *Cluster) Restart(i int) {
	c.Nodes[i].start(c.t)
}

// Stop ends every node.
func (c *Cluster) Stop() {
	for i := range c.Nodes {
		c.Kill(i)
	}
}

// Log returns a node's log, for failure messages.
func (c *Cluster) Log(i int) string {
	b, _ := os.ReadFile(c.Nodes[i].logf)
	return string(b)
}

// WaitReady waits until a JetStream stream can be created with as many
// replicas as there are nodes, which needs a meta leader and every peer.
func (c *Cluster) WaitReady(d time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(d)
	var last error
	for time.Now().Before(deadline) {
		if last = c.probe(); last == nil {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	for i := range c.Nodes {
		c.t.Logf("%s log:\n%s", c.Nodes[i].Name, c.Log(i))
	}
	c.t.Fatalf("JetStream not ready after %v: %v", d, last)
}

func (c *Cluster) probe() error {
	nc, err := nats.Connect(c.URL(), nats.Timeout(time.Second))
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: "READY_PROBE", Subjects: []string{"exhunt.ready.probe"},
		Replicas: len(c.Nodes), Storage: jetstream.MemoryStorage})
	if err != nil {
		return err
	}
	return js.DeleteStream(ctx, "READY_PROBE")
}

func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var ports []int
	var ls []net.Listener
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}

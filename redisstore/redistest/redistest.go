// Package redistest starts throwaway Redis servers and Redis Clusters from
// the machine's redis-server, on free loopback ports in a directory the
// caller owns (a test's t.TempDir, say), for tests and benchmarks that need
// a real cluster. It uses redis-server and redis-cli only; it never touches
// a server it did not start.
package redistest

import (
	"bufio"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options shape a cluster.
type Options struct {
	Masters  int // default 3
	Replicas int // replicas per master; default 0
	// AppendFsyncAlways turns on the append-only file with an fsync per
	// write, so that a master killed and restarted loses no acknowledged
	// write (fault tests).
	AppendFsyncAlways bool
	// NodeTimeout is cluster-node-timeout; default 2 s.
	NodeTimeout time.Duration
}

// Cluster is a running Redis Cluster started by Start.
type Cluster struct {
	dir   string
	opts  Options
	mu    sync.Mutex
	nodes []*node
}

type node struct {
	port int
	dir  string
	cmd  *exec.Cmd
	done chan struct{}
}

// Binaries reports an error if redis-server or redis-cli is not on PATH.
func Binaries() error {
	for _, b := range []string{"redis-server", "redis-cli"} {
		if _, err := exec.LookPath(b); err != nil {
			return fmt.Errorf("redistest: %s not found (install redis-server): %w", b, err)
		}
	}
	return nil
}

// Start starts a cluster of opts.Masters masters with opts.Replicas
// replicas each, under dir, and waits until every node reports
// cluster_state:ok. Stop it with Stop.
//
// A port found free can be taken before its node binds it (go test runs
// packages in parallel, and some start clusters too): a node that exits
// with "Address already in use" makes Start try again, on other ports, up
// to five times in all.
func Start(dir string, opts Options) (*Cluster, error) {
	for attempt := 1; ; attempt++ {
		c, err := start(dir, opts)
		if err == nil || attempt == 5 || !strings.Contains(err.Error(), "Address already in use") {
			return c, err
		}
	}
}

func start(dir string, opts Options) (*Cluster, error) {
	if err := Binaries(); err != nil {
		return nil, err
	}
	if opts.Masters == 0 {
		opts.Masters = 3
	}
	if opts.NodeTimeout == 0 {
		opts.NodeTimeout = 2 * time.Second
	}
	c := &Cluster{dir: dir, opts: opts}
	total := opts.Masters * (1 + opts.Replicas)
	ports, err := freePorts(total)
	if err != nil {
		return nil, err
	}
	for i, p := range ports {
		n := &node{port: p, dir: filepath.Join(dir, fmt.Sprintf("node%d-%d", i, p))}
		if err := os.MkdirAll(n.dir, 0o755); err != nil {
			c.Stop()
			return nil, err
		}
		c.nodes = append(c.nodes, n)
		if err := c.startNode(n); err != nil {
			c.Stop()
			return nil, err
		}
	}
	args := append([]string{"--cluster", "create"}, c.Addrs()...)
	args = append(args, "--cluster-replicas", strconv.Itoa(opts.Replicas), "--cluster-yes")
	if out, err := exec.Command("redis-cli", args...).CombinedOutput(); err != nil {
		c.Stop()
		return nil, fmt.Errorf("redistest: redis-cli --cluster create: %w\n%s", err, out)
	}
	if err := c.WaitOK(30 * time.Second); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

// freePorts picks n ports p for which p and p+10000 (the cluster bus) are
// both free on 127.0.0.1, all below 32768, where Linux's default range of
// ephemeral ports (ip_local_port_range, 32768 to 60999) begins: a port in
// it can be taken at any moment by the local end of an outgoing
// connection, of this process or any other.
func freePorts(n int) ([]int, error) {
	var ports []int
	seen := map[int]bool{}
	for try := 0; len(ports) < n && try < 1000; try++ {
		p := 12000 + rand.IntN(10700)
		if seen[p] || seen[p+10000] || seen[p-10000] {
			continue
		}
		if free(p) && free(p+10000) {
			seen[p] = true
			ports = append(ports, p)
		}
	}
	if len(ports) < n {
		return nil, errors.New("redistest: no free loopback ports")
	}
	return ports, nil
}

func free(port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

func (c *Cluster) startNode(n *node) error {
	args := []string{
		"--port", strconv.Itoa(n.port),
		"--bind", "127.0.0.1",
		"--dir", n.dir,
		"--cluster-enabled", "yes",
		"--cluster-config-file", "nodes.conf",
		"--cluster-node-timeout", strconv.FormatInt(c.opts.NodeTimeout.Milliseconds(), 10),
		"--cluster-require-full-coverage", "no",
		"--save", "",
		"--daemonize", "no",
		"--logfile", "redis.log",
		"--protected-mode", "no",
	}
	if c.opts.AppendFsyncAlways {
		args = append(args, "--appendonly", "yes", "--appendfsync", "always")
	} else {
		args = append(args, "--appendonly", "no")
	}
	return c.startProcess(n, args)
}

// Addrs returns every node's address, masters first as created.
func (c *Cluster) Addrs() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	a := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		a[i] = fmt.Sprintf("127.0.0.1:%d", n.port)
	}
	return a
}

// cmd runs one redis-cli command against port and returns its output.
func (c *Cluster) cmd(port int, args ...string) (string, error) {
	out, err := exec.Command("redis-cli", append([]string{"-h", "127.0.0.1", "-p", strconv.Itoa(port)}, args...)...).CombinedOutput()
	if err != nil {
		return string(out), err
	}
	s := string(out)
	if strings.HasPrefix(s, "Could not connect") || strings.HasPrefix(s, "ERR") || strings.HasPrefix(s, "LOADING") {
		return s, errors.New(strings.TrimSpace(s))
	}
	return s, nil
}

// WaitOK waits until every running node reports cluster_state:ok and
// every slot is served by a master that is up.
func (c *Cluster) WaitOK(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		ok := true
		c.mu.Lock()
		nodes := append([]*node(nil), c.nodes...)
		c.mu.Unlock()
		for _, n := range nodes {
			out, err := c.cmd(n.port, "CLUSTER", "INFO")
			if err != nil || !strings.Contains(out, "cluster_state:ok") || !strings.Contains(out, "cluster_slots_ok:16384") {
				ok = false
				last = fmt.Sprintf("port %d: %v %s", n.port, err, firstLine(out))
				break
			}
		}
		if ok {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("redistest: cluster not ok after %v: %s", timeout, last)
}

func firstLine(s string) string {
	sc := bufio.NewScanner(strings.NewReader(s))
	if sc.Scan() {
		return sc.Text()
	}
	return ""
}

// Kill stops node i (in Addrs order) with SIGKILL, as a crash would, and
// waits for it to exit.
func (c *Cluster) Kill(i int) error {
	c.mu.Lock()
	n := c.nodes[i]
	c.mu.Unlock()
	if n.cmd == nil {
		return nil
	}
	_ = n.cmd.Process.Kill()
	<-n.done
	n.cmd = nil
	return nil
}

// Restart starts node i again, on the same port and data directory (so it
// keeps its cluster identity and, with AppendFsyncAlways, its data).
func (c *Cluster) Restart(i int) error {
	c.mu.Lock()
	n := c.nodes[i]
	c.mu.Unlock()
	return c.startNode(n)
}

// Stop kills every node and waits for each to exit. It is safe to call more
// than once.
func (c *Cluster) Stop() {
	c.mu.Lock()
	nodes := c.nodes
	c.mu.Unlock()
	for _, n := range nodes {
		if n.cmd != nil {
			_ = n.cmd.Process.Kill()
			<-n.done
			n.cmd = nil
		}
	}
}

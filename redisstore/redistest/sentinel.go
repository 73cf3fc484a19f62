package redistest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// MasterName is the name under which a Sentinel group started by
// StartSentinel monitors its master.
const MasterName = "sessionstore"

// Sentinel is a running Sentinel group started by StartSentinel: a master,
// its replicas and the Sentinels that monitor them.
type Sentinel struct {
	servers   *Cluster // the master first, then the replicas (not cluster-enabled)
	sentinels []*node
}

// StartSentinel starts a master with replicas replicas and sentinels
// Sentinels (a quorum of one, so that one Sentinel left can fail over)
// under dir, and waits until every replica is in sync and every Sentinel
// knows the master. Stop it with Stop.
func StartSentinel(dir string, replicas, sentinels int) (*Sentinel, error) {
	if err := Binaries(); err != nil {
		return nil, err
	}
	ports, err := freePorts(1 + replicas + sentinels)
	if err != nil {
		return nil, err
	}
	s := &Sentinel{servers: &Cluster{dir: dir}}
	masterPort := ports[0]
	for i, p := range ports[:1+replicas] {
		n := &node{port: p, dir: filepath.Join(dir, fmt.Sprintf("server%d-%d", i, p))}
		if err := os.MkdirAll(n.dir, 0o755); err != nil {
			s.Stop()
			return nil, err
		}
		s.servers.nodes = append(s.servers.nodes, n)
		args := []string{"--port", strconv.Itoa(p), "--bind", "127.0.0.1", "--dir", n.dir,
			"--save", "", "--appendonly", "no", "--daemonize", "no", "--logfile", "redis.log", "--protected-mode", "no"}
		if i > 0 {
			args = append(args, "--replicaof", "127.0.0.1", strconv.Itoa(masterPort))
		}
		if err := s.servers.startProcess(n, args); err != nil {
			s.Stop()
			return nil, err
		}
	}
	for i, p := range ports[1+replicas:] {
		n := &node{port: p, dir: filepath.Join(dir, fmt.Sprintf("sentinel%d-%d", i, p))}
		if err := os.MkdirAll(n.dir, 0o755); err != nil {
			s.Stop()
			return nil, err
		}
		s.sentinels = append(s.sentinels, n)
		// Sentinel rewrites its configuration file, so each has its own.
		conf := fmt.Sprintf(`port %d
bind 127.0.0.1
protected-mode no
dir %s
logfile sentinel.log
sentinel monitor %s 127.0.0.1 %d 1
sentinel down-after-milliseconds %s 1000
sentinel failover-timeout %s 5000
sentinel parallel-syncs %s 1
`, p, n.dir, MasterName, masterPort, MasterName, MasterName, MasterName)
		path := filepath.Join(n.dir, "sentinel.conf")
		if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
			s.Stop()
			return nil, err
		}
		if err := s.servers.startProcess(n, []string{path, "--sentinel"}); err != nil {
			s.Stop()
			return nil, err
		}
	}
	if err := s.waitSynced(30 * time.Second); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// startProcess starts redis-server with args for n and waits until it
// answers PING.
func (c *Cluster) startProcess(n *node, args []string) error {
	cmd := exec.Command("redis-server", args...)
	cmd.Dir = n.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("redistest: start redis-server: %w", err)
	}
	n.cmd = cmd
	n.done = make(chan struct{})
	go func() { cmd.Wait(); close(n.done) }()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := c.cmd(n.port, "PING"); err == nil {
			return nil
		}
		select {
		case <-n.done:
			log, _ := os.ReadFile(filepath.Join(n.dir, "redis.log"))
			return fmt.Errorf("redistest: redis-server on port %d exited:\n%s", n.port, log)
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("redistest: redis-server on port %d did not answer", n.port)
}

// waitSynced waits until the master reports every replica online and
// every Sentinel reports the master.
func (s *Sentinel) waitSynced(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	replicas := len(s.servers.nodes) - 1
	var last string
	for time.Now().Before(deadline) {
		out, err := s.servers.cmd(s.servers.nodes[0].port, "INFO", "replication")
		ok := err == nil && strings.Count(out, "state=online") == replicas
		last = fmt.Sprintf("master: %v %d of %d replicas online", err, strings.Count(out, "state=online"), replicas)
		for _, n := range s.sentinels {
			if !ok {
				break
			}
			out, err := s.servers.cmd(n.port, "SENTINEL", "get-master-addr-by-name", MasterName)
			if err != nil || !strings.Contains(out, strconv.Itoa(s.servers.nodes[0].port)) {
				ok = false
				last = fmt.Sprintf("sentinel %d: %v %s", n.port, err, firstLine(out))
			}
		}
		if ok {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("redistest: sentinel group not ready after %v: %s", timeout, last)
}

// SentinelAddrs returns the Sentinels' addresses, for
// redis.FailoverOptions.SentinelAddrs.
func (s *Sentinel) SentinelAddrs() []string {
	a := make([]string, len(s.sentinels))
	for i, n := range s.sentinels {
		a[i] = fmt.Sprintf("127.0.0.1:%d", n.port)
	}
	return a
}

// Master returns the address the Sentinels give for the master now.
func (s *Sentinel) Master() (string, error) {
	var err error
	for _, n := range s.sentinels {
		var out string
		out, err = s.servers.cmd(n.port, "SENTINEL", "get-master-addr-by-name", MasterName)
		if err == nil {
			f := strings.Fields(out)
			if len(f) == 2 {
				return f[0] + ":" + f[1], nil
			}
			err = fmt.Errorf("redistest: unexpected reply %q", out)
		}
	}
	return "", err
}

// KillMaster kills the server that is the master now with SIGKILL, as a
// crash would, and returns its address.
func (s *Sentinel) KillMaster() (string, error) {
	addr, err := s.Master()
	if err != nil {
		return "", err
	}
	for _, n := range s.servers.nodes {
		if fmt.Sprintf("127.0.0.1:%d", n.port) == addr && n.cmd != nil {
			_ = n.cmd.Process.Kill()
			<-n.done
			n.cmd = nil
			return addr, nil
		}
	}
	return "", fmt.Errorf("redistest: the master %s is not a server of this group", addr)
}

// WaitFailover waits until the Sentinels name a master other than old.
func (s *Sentinel) WaitFailover(old string, timeout time.Duration) (string, error) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if addr, err := s.Master(); err == nil && addr != old {
			return addr, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return "", fmt.Errorf("redistest: no failover from %s after %v", old, timeout)
}

// Stop kills every process of the group and waits for each to exit. It is
// safe to call more than once.
func (s *Sentinel) Stop() {
	s.servers.Stop()
	for _, n := range s.sentinels {
		if n.cmd != nil {
			_ = n.cmd.Process.Kill()
			<-n.done
			n.cmd = nil
		}
	}
}

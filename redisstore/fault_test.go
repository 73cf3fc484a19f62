package redisstore

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionstore/sessionstore/internal/testenv"
	"github.com/sessionstore/sessionstore/redisstore/redistest"
)

// TestMasterRestartUnderLoad kills one master of a cluster of three (with
// an fsync per write, so that an acknowledged write survives) while eight
// goroutines commit and find their sessions, restarts it, and checks what
// the store promises: every operation succeeds or returns an error, a live
// session is never "not found", Sessions fails (rather than returning a
// short list) while the master is down, no acknowledged session is lost,
// and the same client serves again once the cluster is back.
func TestMasterRestartUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster of its own")
	}
	c, err := redistest.Start(t.TempDir(), redistest.Options{Masters: 3, AppendFsyncAlways: true, NodeTimeout: time.Second})
	if err != nil {
		testenv.Unavailable(t, "a Redis Cluster started from redis-server", "install redis-server", err)
	}
	defer c.Stop()
	client := redis.NewClusterClient(&redis.ClusterOptions{
		Addrs:        c.Addrs(),
		DialTimeout:  300 * time.Millisecond,
		ReadTimeout:  500 * time.Millisecond,
		WriteTimeout: 500 * time.Millisecond,
		MaxRetries:   1,
	})
	defer client.Close()
	s, err := NewWithConfig(client, Config{Prefix: uniquePrefix("fault")})
	if err != nil {
		t.Fatal(err)
	}

	const workers, perWorker = 8, 30
	type state struct {
		confirmed string          // last acknowledged Commit
		maybe     map[string]bool // Commits that failed since: they may have landed
	}
	var (
		mu     sync.Mutex
		states = map[string]*state{}
	)
	expiry := time.Now().Add(time.Hour)
	for w := range workers {
		for i := range perWorker {
			tok := fmt.Sprintf("w%d-s%d", w, i)
			if err := s.Commit(tok, []byte("v0"), expiry); err != nil {
				t.Fatal(err)
			}
			states[tok] = &state{confirmed: "v0", maybe: map[string]bool{}}
		}
	}

	var ops, errs, notFound atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 1; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				tok := fmt.Sprintf("w%d-s%d", w, n%perWorker)
				ops.Add(1)
				if n%2 == 0 {
					v := fmt.Sprintf("v%d", n)
					err := s.Commit(tok, []byte(v), expiry)
					mu.Lock()
					if err != nil {
						errs.Add(1)
						states[tok].maybe[v] = true
					} else {
						states[tok] = &state{confirmed: v, maybe: map[string]bool{}}
					}
					mu.Unlock()
					continue
				}
				got, ok, err := s.Find(tok)
				switch {
				case err != nil:
					errs.Add(1)
				case !ok:
					notFound.Add(1)
					t.Errorf("Find(%s): not found, while the session is live", tok)
				default:
					mu.Lock()
					st := states[tok]
					if string(got) != st.confirmed && !st.maybe[string(got)] {
						t.Errorf("Find(%s) = %q, want %q or one of the failed commits %v", tok, got, st.confirmed, st.maybe)
					}
					mu.Unlock()
				}
			}
		}()
	}

	time.Sleep(300 * time.Millisecond)
	if err := c.Kill(1); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	// A master is down: iteration must fail, not return a short list.
	var iterErr error
	n := 0
	for _, err := range s.Sessions(context.Background()) {
		if err != nil {
			iterErr = err
			break
		}
		n++
	}
	if iterErr == nil {
		t.Errorf("Sessions with a master down returned %d of %d sessions and no error", n, workers*perWorker)
	}
	time.Sleep(1500 * time.Millisecond)
	if err := c.Restart(1); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitOK(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	time.Sleep(700 * time.Millisecond) // load on the healed cluster
	close(stop)
	wg.Wait()
	t.Logf("%d operations, %d errors while the master was down, %d not found; Sessions while down: %v", ops.Load(), errs.Load(), notFound.Load(), iterErr)
	if errs.Load() == 0 {
		t.Error("no operation failed: the fault did not reach the store")
	}

	// Once the cluster is back, the same client serves, and no
	// acknowledged session is lost.
	deadline := time.Now().Add(10 * time.Second)
	for tok, st := range states {
		for {
			got, ok, err := s.Find(tok)
			if err != nil && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
				continue
			}
			if err != nil || !ok {
				t.Fatalf("after the restart, Find(%s) = found %v, err %v; the session was committed", tok, ok, err)
			}
			if string(got) != st.confirmed && !st.maybe[string(got)] {
				t.Errorf("after the restart, Find(%s) = %q, want %q or one of %v", tok, got, st.confirmed, st.maybe)
			}
			break
		}
	}
	all, err := s.All()
	if err != nil || len(all) != workers*perWorker {
		t.Fatalf("All after the restart: %d sessions, %v; want %d", len(all), err, workers*perWorker)
	}
	if err := s.Commit("after", []byte("a"), expiry); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete("after"); err != nil {
		t.Fatal(err)
	}
}

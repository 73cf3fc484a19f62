package redisstore

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionstore/sessionstore/internal/testenv"
	"github.com/sessionstore/sessionstore/redisstore/redistest"
)

// The Sentinel tests run on Sentinel groups started from redis-server: a
// master with a replica, monitored by one Sentinel (quorum one). The
// conformance suite shares one group, started on first use and stopped by
// TestMain; the failover test starts its own, since it kills the master.
var sentinelGroup struct {
	once   sync.Once
	dir    string
	group  *redistest.Sentinel
	client *redis.Client
	err    error
}

// sentinelC returns the client of the shared Sentinel group: a
// redis.UniversalClient built from a MasterName, as an application
// configures one, which is a failover client.
func sentinelC(t testing.TB) redis.UniversalClient {
	t.Helper()
	g := &sentinelGroup
	g.once.Do(func() {
		if g.dir, g.err = os.MkdirTemp("", "redisstore-sentinel-"); g.err != nil {
			return
		}
		if g.group, g.err = redistest.StartSentinel(g.dir, 1, 1); g.err != nil {
			return
		}
		u := redis.NewUniversalClient(&redis.UniversalOptions{MasterName: redistest.MasterName, Addrs: g.group.SentinelAddrs()})
		g.client = u.(*redis.Client)
	})
	if g.err != nil {
		testenv.Unavailable(t, "a Redis Sentinel group started from redis-server", "install redis-server (apt-get install redis-server)", g.err)
	}
	return g.client
}

// stopSentinel stops the shared group, if it was started (TestMain).
func stopSentinel() {
	g := &sentinelGroup
	if g.client != nil {
		g.client.Close()
	}
	if g.group != nil {
		g.group.Stop()
	}
	if g.dir != "" {
		os.RemoveAll(g.dir)
	}
}

func TestConformanceSentinel(t *testing.T) {
	conformance(t, sentinelC)
}

// TestSentinelFailover kills the master of a Sentinel group while eight
// goroutines find the sessions committed (and replicated) before and commit
// new ones, and checks: every operation succeeds or returns an error; a
// replicated session is never "not found", during the failover or after;
// once the Sentinel has promoted the replica, the same store serves again,
// and a logout on the new master stays final.
func TestSentinelFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Sentinel group of its own")
	}
	g, err := redistest.StartSentinel(t.TempDir(), 1, 1)
	if err != nil {
		testenv.Unavailable(t, "a Redis Sentinel group started from redis-server", "install redis-server", err)
	}
	defer g.Stop()
	client := redis.NewFailoverClient(&redis.FailoverOptions{
		MasterName:    redistest.MasterName,
		SentinelAddrs: g.SentinelAddrs(),
		DialTimeout:   300 * time.Millisecond,
		ReadTimeout:   500 * time.Millisecond,
		WriteTimeout:  500 * time.Millisecond,
		MaxRetries:    1,
	})
	defer client.Close()
	s, err := NewWithConfig(client, Config{Prefix: uniquePrefix("sentinel")})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	expiry := time.Now().Add(time.Hour)
	const seeded = 200
	for i := range seeded {
		if err := s.Commit(fmt.Sprintf("seed-%d", i), []byte("v"), expiry); err != nil {
			t.Fatal(err)
		}
	}
	// Replication is asynchronous: a write acknowledged by the master
	// before it dies may be lost. WAIT makes the seeded ones replicated.
	if n, err := client.Do(ctx, "WAIT", 1, 5000).Int(); err != nil || n != 1 {
		t.Fatalf("WAIT = %d, %v: the replica is not in sync", n, err)
	}

	var ops, errs, notFound atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				ops.Add(2)
				_, found, err := s.Find(fmt.Sprintf("seed-%d", (w*31+n)%seeded))
				switch {
				case err != nil:
					errs.Add(1)
				case !found:
					notFound.Add(1)
				}
				if err := s.Commit(fmt.Sprintf("new-%d-%d", w, n), []byte("n"), expiry); err != nil {
					errs.Add(1)
				}
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	old, err := g.KillMaster()
	if err != nil {
		close(stop)
		wg.Wait()
		t.Fatal(err)
	}
	promoted, err := g.WaitFailover(old, 30*time.Second)
	if err != nil {
		close(stop)
		wg.Wait()
		t.Fatal(err)
	}
	// The store serves again once the client has found the new master.
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := s.Commit("after-failover", []byte("a"), expiry)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			close(stop)
			wg.Wait()
			t.Fatalf("no Commit succeeded within 20 s of the failover to %s: %v", promoted, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // load on the new master too
	close(stop)
	wg.Wait()
	t.Logf("failover %s -> %s: %d operations, %d errors, %d not found", old, promoted, ops.Load(), errs.Load(), notFound.Load())
	if notFound.Load() > 0 {
		t.Errorf("%d Finds of replicated sessions said not found during the failover", notFound.Load())
	}
	for i := range seeded {
		tok := fmt.Sprintf("seed-%d", i)
		if _, found, err := s.Find(tok); err != nil || !found {
			t.Fatalf("after the failover, Find(%s) = %v, %v: a replicated session was lost", tok, found, err)
		}
	}
	if _, found, err := s.Find("after-failover"); err != nil || !found {
		t.Fatalf("Find of a session committed on the new master = %v, %v", found, err)
	}
	// A logout on the new master stays final.
	if err := s.Delete("seed-0"); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit("seed-0", []byte("late"), expiry); err != nil {
		t.Fatal(err)
	}
	if _, found, err := s.Find("seed-0"); err != nil || found {
		t.Fatalf("a late Commit after a Delete on the new master brought the session back (found %v, %v)", found, err)
	}
}

package memstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sessionstore/sessionstore"
	"github.com/sessionstore/sessionstore/memstore"
)

func TestMaxSessionsEvictsNearestExpiry(t *testing.T) {
	now := time.Now()
	// One session per shard and then some: 64 shards share 640 sessions.
	s := memstore.NewWithConfig(memstore.Config{MaxSessions: 640, CleanupInterval: -1, Now: func() time.Time { return now }})
	// Long-lived users first.
	for i := range 640 {
		if err := s.Commit(fmt.Sprint("user-", i), []byte("u"), now.Add(time.Duration(24+i)*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	before := len(must(s.All())) // the bound is per shard, so some may already be gone
	// A flood of short sessions: each evicts the nearest expiry in its
	// shard, which is an earlier flood session once one is there.
	for i := range 10000 {
		if err := s.Commit(fmt.Sprint("flood-", i), []byte("f"), now.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	all, err := s.All()
	if err != nil {
		t.Fatal(err)
	}
	if len(all) > 640 {
		t.Fatalf("store holds %d sessions, bound is 640", len(all))
	}
	users := 0
	for tok := range all {
		if tok[:5] == "user-" {
			users++
		}
	}
	// Every shard that saw a flood session evicted at most one user and
	// then only flood sessions.
	if users < before-64 {
		t.Errorf("%d of %d long-lived sessions survived the flood, want at least %d", users, before, before-64)
	}
	// The newest flood session itself is always kept.
	if _, ok, _ := s.Find("flood-9999"); !ok {
		t.Error("the session just committed was evicted")
	}
}

func TestMaxBytes(t *testing.T) {
	s := memstore.NewWithConfig(memstore.Config{MaxBytes: 64 * 1000, CleanupInterval: -1})
	exp := time.Now().Add(time.Hour)
	// 1000 bytes per shard: a session bigger than that can never fit.
	err := s.Commit("big", make([]byte, 2000), exp)
	var tl *sessionstore.TooLargeError
	if !errors.Is(err, sessionstore.ErrTooLarge) || !errors.As(err, &tl) || tl.Max != 1000 {
		t.Fatalf("Commit of 2000 bytes into 1000-byte shards: %v, want TooLargeError{Max: 1000}", err)
	}
	if _, ok, _ := s.Find("big"); ok {
		t.Fatal("oversize session was stored")
	}
	for i := range 2000 {
		if err := s.Commit(fmt.Sprint("t", i), make([]byte, 200), exp.Add(time.Duration(i))); err != nil {
			t.Fatal(err)
		}
	}
	total := 0
	for tok, data := range must(s.All()) {
		total += len(tok) + len(data)
	}
	if total > 64*1000 {
		t.Fatalf("store holds %d bytes, bound is %d", total, 64*1000)
	}
}

func TestMaxDataSize(t *testing.T) {
	s := memstore.NewWithConfig(memstore.Config{MaxDataSize: 10, CleanupInterval: -1})
	exp := time.Now().Add(time.Hour)
	if err := s.Commit("tok", []byte("0123456789"), exp); err != nil {
		t.Fatal(err)
	}
	err := s.Commit("tok", []byte("0123456789A"), exp)
	if !errors.Is(err, sessionstore.ErrTooLarge) {
		t.Fatalf("Commit over MaxDataSize: %v, want ErrTooLarge", err)
	}
	if got, _, _ := s.Find("tok"); string(got) != "0123456789" {
		t.Fatalf("failed Commit changed the session to %q", got)
	}
}

func TestBackgroundCleanup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		type run struct {
			deleted int64
			err     error
		}
		var mu sync.Mutex
		var runs []run
		s := memstore.NewWithConfig(memstore.Config{
			CleanupInterval:  time.Minute,
			CleanupBatchSize: 7,
			OnCleanup: func(deleted int64, _ time.Duration, err error) {
				mu.Lock()
				runs = append(runs, run{deleted, err})
				mu.Unlock()
			},
		})
		defer s.StopCleanup()
		for i := range 100 {
			tok := fmt.Sprint("s", i)
			if err := s.Commit(tok, []byte("x"), time.Now().Add(30*time.Second)); err != nil {
				t.Fatal(err)
			}
			if i%10 == 0 {
				if err := s.Delete(tok); err != nil { // leaves a tombstone
					t.Fatal(err)
				}
			}
		}
		if err := s.Commit("live", []byte("x"), time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(73 * time.Second) // one run (at 48s..72s) has happened
		synctest.Wait()
		mu.Lock()
		defer mu.Unlock()
		if len(runs) != 1 || runs[0].err != nil || runs[0].deleted != 100 {
			t.Fatalf("cleanup runs = %+v, want one run deleting 90 sessions and 10 tombstones", runs)
		}
		if _, ok, _ := s.Find("live"); !ok {
			t.Fatal("cleanup removed a live session")
		}
	})
}

func TestStopCleanupWithoutLoop(t *testing.T) {
	s := memstore.NewWithCleanupInterval(0)
	s.StopCleanup()
	s.StopCleanup()
	var never *memstore.MemStore = memstore.NewWithConfig(memstore.Config{CleanupInterval: -1})
	never.StopCleanup()
}

func TestDeleteExpiredHonoursContext(t *testing.T) {
	s := memstore.NewWithCleanupInterval(0)
	if err := s.Commit("gone", []byte("x"), time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.DeleteExpired(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("DeleteExpired with a cancelled context: %v", err)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

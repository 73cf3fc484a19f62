package memstore_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionstore/sessionstore/memstore"
)

// shardTokens returns n tokens of one shard of s, so that a test sees one
// shard's eviction order exactly.
func shardTokens(s *memstore.MemStore, prefix string, n int) []string {
	var toks []string
	for i := 0; len(toks) < n; i++ {
		if tok := fmt.Sprintf("%s-%d", prefix, i); memstore.ShardOf(s, tok) == 0 {
			toks = append(toks, tok)
		}
	}
	return toks
}

// When full, a store evicts sessions created once and never used again
// first, then tombstones, oldest first, and sessions in use last, whatever
// their expiries: here the sessions in use expire first.
func TestEvictionOrder(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	s := mustNew(t, memstore.Config{MaxSessions: 100, CleanupInterval: -1, Now: func() time.Time { return now }})
	users := shardTokens(s, "user", 50)
	for _, tok := range users {
		if err := s.Commit(tok, []byte("u"), now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := s.Find(tok); !ok { // used again
			t.Fatal("user session missing")
		}
	}
	deleted := shardTokens(s, "del", 20)
	for _, tok := range deleted {
		if err := s.Commit(tok, []byte("d"), now.Add(24*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(tok); err != nil {
			t.Fatal(err)
		}
	}
	// A flood of sessions never used again evicts only its own.
	for _, tok := range shardTokens(s, "flood", 1000) {
		if err := s.Commit(tok, []byte("f"), now.Add(24*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	for _, tok := range users {
		if _, ok, _ := s.Find(tok); !ok {
			t.Fatalf("a flood of new sessions evicted %s, which was in use", tok)
		}
	}
	for _, tok := range deleted {
		s.Commit(tok, []byte("late"), now.Add(time.Hour))
		if _, ok, _ := s.Find(tok); ok {
			t.Fatalf("a flood of new sessions evicted the tombstone of %s", tok)
		}
	}
	// A flood of logouts evicts tombstones, oldest first, and no session
	// in use.
	logouts := shardTokens(s, "logout", 1000)
	for _, tok := range logouts {
		if err := s.Commit(tok, []byte("l"), now.Add(24*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(tok); err != nil {
			t.Fatal(err)
		}
	}
	for _, tok := range users {
		if _, ok, _ := s.Find(tok); !ok {
			t.Fatalf("a flood of logouts evicted %s, which was in use", tok)
		}
	}
	for _, tok := range logouts[len(logouts)-30:] {
		s.Commit(tok, []byte("late"), now.Add(time.Hour))
		if _, ok, _ := s.Find(tok); ok {
			t.Fatalf("the tombstone of %s, among the newest, was evicted", tok)
		}
	}
	if err := memstore.CheckInvariants(s); err != nil {
		t.Fatal(err)
	}
	for _, tok := range append(deleted, logouts[:900]...) {
		if err := s.Commit(tok, []byte("again"), now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := s.Find(tok); !ok {
			t.Fatalf("the tombstone of %s, among the oldest, is still there", tok)
		}
	}
}

// logCounter counts the records of a slog handler and keeps their text.
type logCounter struct {
	buf bytes.Buffer
	h   slog.Handler
}

func newLogCounter() *logCounter {
	c := &logCounter{}
	c.h = slog.NewTextHandler(&c.buf, nil)
	return c
}

func (c *logCounter) lines() []string {
	return strings.Split(strings.TrimSpace(c.buf.String()), "\n")
}

// A tombstone evicted early is logged at WARN, with a count: the first
// time, and then at most once a minute, not once per eviction.
func TestTombstoneEvictionLogged(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	logs := newLogCounter()
	s := mustNew(t, memstore.Config{MaxSessions: 64, CleanupInterval: -1, Logger: slog.New(logs.h), Now: func() time.Time { return now }})
	cycle := func(n int, prefix string) {
		for i := range n {
			tok := fmt.Sprint(prefix, i)
			if err := s.Commit(tok, []byte("x"), now.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			if err := s.Delete(tok); err != nil {
				t.Fatal(err)
			}
		}
	}
	cycle(10_000, "a")
	if got := logs.lines(); len(got) != 1 || !strings.Contains(got[0], "level=WARN") || !strings.Contains(got[0], "tombstones evicted") {
		t.Fatalf("after 10,000 logouts over MaxSessions 64: %d log lines %q, want one WARN", len(got), got)
	}
	now = now.Add(time.Minute)
	cycle(10_000, "b")
	got := logs.lines()
	if len(got) != 2 || !strings.Contains(got[1], "tombstones=") {
		t.Fatalf("a minute and 10,000 logouts later: %d log lines %q, want two", len(got), got)
	}
	var first, second int
	fmt.Sscanf(got[0][strings.Index(got[0], "tombstones=")+len("tombstones="):], "%d", &first)
	fmt.Sscanf(got[1][strings.Index(got[1], "tombstones=")+len("tombstones="):], "%d", &second)
	// The second line counts those evicted since the first, up to the
	// eviction that wrote it.
	if first+second < 10_000-64 {
		t.Errorf("the lines count %d and %d tombstones evicted, want about %d in all", first, second, 10_000-64)
	}
}

// heapAfterGC is the heap in use after two garbage collections.
func heapAfterGC() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// A million logouts (each a new session, committed then deleted) leave
// tombstones within the bounds: the heap grows by no more than MaxBytes
// above what it held, and the store keeps only the newest tombstones.
func TestTombstoneFloodHeapBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("floods the store")
	}
	const (
		maxSessions = 6400
		maxBytes    = 8 << 20
	)
	cycles := 1_000_000 / floodScale
	now := time.Unix(1_700_000_000, 0)
	s := mustNew(t, memstore.Config{MaxSessions: maxSessions, MaxBytes: maxBytes, CleanupInterval: -1,
		Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { return now }})
	data := make([]byte, 100)
	before := heapAfterGC()
	tok := []byte("flood-0000000000000000000000000000000000000")
	for i := range cycles {
		// A new token each time, as a session manager makes them.
		for j, k := len(tok)-1, i; k > 0; j, k = j-1, k/10 {
			tok[j] = byte('0' + k%10)
		}
		if err := s.Commit(string(tok), data, now.Add(24*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(string(tok)); err != nil {
			t.Fatal(err)
		}
		if i%1000 == 0 {
			now = now.Add(time.Second)
		}
	}
	grew := heapAfterGC() - before
	n, err := s.DeleteExpired(context.Background())
	if err != nil || n != 0 {
		t.Fatalf("DeleteExpired = %d, %v; nothing has expired", n, err)
	}
	if len(must(s.All())) != 0 {
		t.Fatal("live sessions after create-then-delete cycles")
	}
	t.Logf("%d logouts under MaxSessions %d, MaxBytes %d: heap %+d bytes", cycles, maxSessions, maxBytes, grew)
	if grew > maxBytes {
		t.Errorf("heap grew by %d bytes under %d logouts, want at most MaxBytes (%d)", grew, cycles, maxBytes)
	}
	// The newest logouts still hold.
	if err := s.Commit(string(tok), data, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.Find(string(tok)); ok {
		t.Fatal("the newest logout was undone")
	}
	runtime.KeepAlive(s)
}

// Concurrent Finds, Commits (new and overwriting, of varying sizes),
// Deletes and cleanups under small bounds leave the store consistent and
// within its bounds.
func TestBoundedConcurrent(t *testing.T) {
	base := time.Unix(1_700_000_000, 0)
	var clock atomic.Int64
	now := func() time.Time { return base.Add(time.Duration(clock.Load())) }
	s := mustNew(t, memstore.Config{MaxSessions: 100, MaxBytes: 64 << 10, CleanupInterval: -1,
		TombstoneLifetime: time.Second, ClockSkew: time.Second, Logger: slog.New(slog.DiscardHandler), Now: now})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 1))
			for range 20_000 / floodScale {
				tok := fmt.Sprint("t", r.IntN(300))
				switch op := r.IntN(100); {
				case op < 50:
					s.Find(tok)
				case op < 85:
					if err := s.Commit(tok, make([]byte, r.IntN(4000)), now().Add(time.Duration(r.IntN(5))*time.Second)); err != nil {
						t.Error(err)
						return
					}
				case op < 98:
					s.Delete(tok)
				case op < 99:
					clock.Add(int64(100 * time.Millisecond))
				default:
					if _, err := s.DeleteExpired(context.Background()); err != nil {
						t.Error(err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	if err := memstore.CheckInvariants(s); err != nil {
		t.Fatal(err)
	}
	clock.Add(int64(time.Minute))
	if _, err := s.DeleteExpired(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := memstore.CheckInvariants(s); err != nil {
		t.Fatal(err)
	}
	if n := len(must(s.All())); n != 0 {
		t.Fatalf("%d sessions left after everything expired and cleanup ran", n)
	}
}

package memstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sessionstore/sessionstore"
	"github.com/sessionstore/sessionstore/memstore"
)

// A store holds what its configuration says, whatever the number of shards:
// MaxSessions 10 holds ten sessions, and an eleventh evicts one.
func TestMaxSessionsSmallHoldsAll(t *testing.T) {
	s := mustNew(t, memstore.Config{MaxSessions: 10, CleanupInterval: -1})
	exp := time.Now().Add(time.Hour)
	for i := range 10 {
		// 44 bytes, like a small SCS session.
		if err := s.Commit(fmt.Sprint("tok", i), make([]byte, 44), exp); err != nil {
			t.Fatalf("Commit %d of 10 into an empty store with MaxSessions 10: %v", i+1, err)
		}
	}
	if n := len(must(s.All())); n != 10 {
		t.Fatalf("store holds %d sessions, want the 10 MaxSessions allows", n)
	}
	if err := s.Commit("eleventh", make([]byte, 44), exp); err != nil {
		t.Fatal(err)
	}
	all := must(s.All())
	if _, ok := all["eleventh"]; !ok || len(all) != 10 {
		t.Fatalf("after an eleventh Commit the store holds %d sessions (eleventh held: %v), want 10 with it", len(all), ok)
	}
}

// MaxBytes 1 MiB holds a 20 KiB session, and sessions up to about 1 MiB in
// all, never more.
func TestMaxBytesHoldsLargeSession(t *testing.T) {
	const maxBytes = 1 << 20
	s := mustNew(t, memstore.Config{MaxBytes: maxBytes, CleanupInterval: -1})
	exp := time.Now().Add(time.Hour)
	data := make([]byte, 20<<10)
	if err := s.Commit("first", data, exp); err != nil {
		t.Fatalf("Commit of a 20 KiB session with MaxBytes 1 MiB: %v", err)
	}
	for i := range 200 {
		if err := s.Commit(fmt.Sprint("tok", i), data, exp); err != nil {
			t.Fatal(err)
		}
		total := 0
		for tok, d := range must(s.All()) {
			total += len(tok) + len(d)
		}
		if total > maxBytes {
			t.Fatalf("store holds %d bytes, MaxBytes is %d", total, maxBytes)
		}
		// Full, it holds all but what one session needs.
		if i > 60 && total < maxBytes-len(data)-64 {
			t.Fatalf("store holds %d bytes after %d sessions of %d, want about MaxBytes (%d)", total, i+2, len(data), maxBytes)
		}
	}
}

// A session larger than MaxBytes gives an error that names MaxBytes, writes
// nothing and evicts nothing.
func TestSessionOverMaxBytes(t *testing.T) {
	const maxBytes = 16 << 10
	s := mustNew(t, memstore.Config{MaxBytes: maxBytes, CleanupInterval: -1})
	exp := time.Now().Add(time.Hour)
	for i := range 10 {
		if err := s.Commit(fmt.Sprint("tok", i), make([]byte, 1000), exp); err != nil {
			t.Fatal(err)
		}
	}
	big := make([]byte, 20<<10-len("big"))
	for _, tok := range []string{"big", "tok3"} { // new, and over an existing session
		err := s.Commit(tok, big, exp)
		var tl *sessionstore.TooLargeError
		if !errors.Is(err, sessionstore.ErrTooLarge) || !errors.As(err, &tl) || tl.Max != maxBytes || tl.Size != 20<<10-3+len(tok) {
			t.Fatalf("Commit of %d bytes with MaxBytes %d: %v, want a TooLargeError{Max: %d}", len(big), maxBytes, err, maxBytes)
		}
		if want := fmt.Sprintf("memstore: commit: session of %d bytes exceeds MaxBytes (%d)", tl.Size, maxBytes); err.Error() != want {
			t.Errorf("error %q, want %q", err, want)
		}
	}
	if _, ok, _ := s.Find("big"); ok {
		t.Fatal("the oversize session was stored")
	}
	all := must(s.All())
	if len(all) != 10 || len(all["tok3"]) != 1000 {
		t.Fatalf("store holds %d sessions (tok3 of %d bytes), want the 10 it held, untouched", len(all), len(all["tok3"]))
	}
}

// Data over MaxDataSize gives an error that names MaxDataSize, and leaves
// the session as it was.
func TestMaxDataSize(t *testing.T) {
	s := mustNew(t, memstore.Config{MaxDataSize: 10, CleanupInterval: -1})
	exp := time.Now().Add(time.Hour)
	if err := s.Commit("tok", []byte("0123456789"), exp); err != nil {
		t.Fatal(err)
	}
	err := s.Commit("tok", []byte("0123456789A"), exp)
	if !errors.Is(err, sessionstore.ErrTooLarge) || !strings.Contains(err.Error(), "exceeds MaxDataSize (10)") {
		t.Fatalf("Commit over MaxDataSize: %v, want ErrTooLarge naming MaxDataSize", err)
	}
	if got, _, _ := s.Find("tok"); string(got) != "0123456789" {
		t.Fatalf("failed Commit changed the session to %q", got)
	}
}

// Every negative setting that has no documented meaning is refused with an
// error naming it, not a panic and not a silent "no bound"; the tombstone
// settings wrap the shared policy's error. A negative CleanupInterval is
// documented (no goroutine) and is accepted.
func TestNewWithConfigRejectsNegative(t *testing.T) {
	for _, c := range []struct {
		field string
		cfg   memstore.Config
	}{
		{"TombstoneLifetime", memstore.Config{TombstoneLifetime: -time.Second}},
		{"ClockSkew", memstore.Config{ClockSkew: -time.Second}},
		{"MaxSessions", memstore.Config{MaxSessions: -1}},
		{"MaxBytes", memstore.Config{MaxBytes: -1}},
		{"MaxDataSize", memstore.Config{MaxDataSize: -1}},
		{"CleanupBatchSize", memstore.Config{CleanupBatchSize: -1}},
	} {
		t.Run(c.field, func(t *testing.T) {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("NewWithConfig(%+v) panicked: %v, want an error", c.cfg, r)
				}
			}()
			s, err := memstore.NewWithConfig(c.cfg)
			if err == nil {
				s.StopCleanup()
				t.Fatalf("NewWithConfig(%+v) succeeded, want an error naming %s", c.cfg, c.field)
			}
			if s != nil {
				t.Errorf("NewWithConfig(%+v) returned a store with its error", c.cfg)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "memstore: config: ") || !strings.Contains(msg, c.field) || !strings.Contains(msg, "negative") {
				t.Errorf("NewWithConfig(%+v) = %q, want a memstore: config: error naming negative %s", c.cfg, msg, c.field)
			}
			if c.field == "TombstoneLifetime" || c.field == "ClockSkew" {
				if errors.Unwrap(err) == nil {
					t.Errorf("NewWithConfig(%+v) = %q, want it to wrap the tombstone policy's error", c.cfg, msg)
				}
			}
		})
	}
	s, err := memstore.NewWithConfig(memstore.Config{CleanupInterval: -time.Second})
	if err != nil {
		t.Fatalf("NewWithConfig(CleanupInterval: -1s) = %v, want no goroutine and no error", err)
	}
	s.StopCleanup()
}

func TestBackgroundCleanup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		type run struct {
			deleted int64
			err     error
		}
		var mu sync.Mutex
		var runs []run
		s := mustNew(t, memstore.Config{
			CleanupInterval:   time.Minute,
			CleanupBatchSize:  7,
			TombstoneLifetime: 10 * time.Second,
			ClockSkew:         time.Second,
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
				if err := s.Delete(tok); err != nil { // leaves a tombstone until 31s
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
	var never *memstore.MemStore = mustNew(t, memstore.Config{CleanupInterval: -1})
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

// mustNew is memstore.NewWithConfig for a configuration the test knows to
// be valid.
func mustNew(tb testing.TB, cfg memstore.Config) *memstore.MemStore {
	tb.Helper()
	s, err := memstore.NewWithConfig(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

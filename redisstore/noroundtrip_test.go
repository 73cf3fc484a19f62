package redisstore

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionstore/sessionstore"
)

// countHook counts the commands a client sends.
type countHook struct{ n atomic.Int64 }

func (h *countHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *countHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { h.n.Add(1); return next(ctx, cmd) }
}
func (h *countHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { h.n.Add(int64(len(cmds))); return next(ctx, cmds) }
}

// TestMalformedTokensNoRoundTrip: Find, Commit and Delete of a malformed
// token (empty, NUL, invalid UTF-8, over 512 bytes) send nothing to Redis,
// and oversize data or an expiry out of range neither.
func TestMalformedTokensNoRoundTrip(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: single(t).Options().Addr, DB: testDB, PoolSize: 1})
	t.Cleanup(func() { c.Close() })
	if err := c.Ping(context.Background()).Err(); err != nil { // the connection's handshake
		t.Fatal(err)
	}
	h := &countHook{}
	c.AddHook(h)
	s := newStore(t, c, Config{MaxDataSize: 8})
	exp := time.Now().Add(time.Hour)
	for _, tok := range []string{"", "a\x00b", "\x00", "\xff\xfe", strings.Repeat("x", sessionstore.MaxTokenLen+1)} {
		if _, ok, err := s.Find(tok); ok || err != nil {
			t.Errorf("Find(%.10q) = %v, %v", tok, ok, err)
		}
		if err := s.Commit(tok, []byte("x"), exp); !errors.Is(err, sessionstore.ErrInvalidToken) {
			t.Errorf("Commit(%.10q) = %v", tok, err)
		}
		if err := s.Delete(tok); err != nil {
			t.Errorf("Delete(%.10q) = %v", tok, err)
		}
	}
	if err := s.Commit("ok", []byte("123456789"), exp); !errors.Is(err, sessionstore.ErrTooLarge) {
		t.Errorf("oversize Commit = %v", err)
	}
	if err := s.Commit("ok", []byte("1"), time.Time{}); !errors.Is(err, sessionstore.ErrExpiryOutOfRange) {
		t.Errorf("zero-expiry Commit = %v", err)
	}
	if n := h.n.Load(); n != 0 {
		t.Fatalf("%d commands reached Redis", n)
	}
	// The hook does count: one valid Find is one GET.
	if _, _, err := s.Find("ok"); err != nil {
		t.Fatal(err)
	}
	if n := h.n.Load(); n != 1 {
		t.Fatalf("a valid Find sent %d commands, want 1", n)
	}
}

// TestDeleteOutlivesCancel: a Delete whose context is cancelled while the
// server is slow (the server is paused with CLIENT PAUSE) still completes.
func TestDeleteOutlivesCancel(t *testing.T) {
	c := single(t)
	s := newStore(t, c, Config{})
	exp := time.Now().Add(time.Hour)
	if err := s.Commit("tok", []byte("x"), exp); err != nil {
		t.Fatal(err)
	}
	admin := redis.NewClient(&redis.Options{Addr: c.Options().Addr, DB: testDB})
	defer admin.Close()
	if err := admin.Do(context.Background(), "CLIENT", "PAUSE", "300", "WRITE").Err(); err != nil {
		var ne net.Error
		if errors.As(err, &ne) {
			t.Fatal(err)
		}
		t.Skipf("CLIENT PAUSE not allowed: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := s.DeleteCtx(ctx, "tok"); err != nil {
		t.Fatalf("DeleteCtx cut short by its request's context: %v", err)
	}
	if _, ok, _ := s.Find("tok"); ok {
		t.Fatal("session still found after the Delete")
	}
}

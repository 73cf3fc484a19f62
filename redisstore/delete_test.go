package redisstore

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionstore/sessionstore"
	"github.com/sessionstore/sessionstore/storetest"
)

// tombPXAT returns the tombstone's PEXPIRETIME and value for tok.
func tombPXAT(t *testing.T, c redis.UniversalClient, s *RedisStore, tok string) (int64, string) {
	t.Helper()
	ctx := context.Background()
	pxat, err := c.Do(ctx, "PEXPIRETIME", s.tombstoneKey(tok)).Int64()
	if err != nil {
		t.Fatal(err)
	}
	v, err := c.Get(ctx, s.tombstoneKey(tok)).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		t.Fatal(err)
	}
	return pxat, v
}

// TestDeleteTombstoneExpiry checks the tombstone rule on the keys, with
// the index off (deleteTomb's pipeline) and on (the index scripts' tomb):
// the tombstone's PXAT is the later of the session's expiry and the Delete
// time plus TombstoneLifetime, plus ClockSkew; a second Delete moves it
// later, never earlier; the tombstone keeps none of the session's data; a
// goredisstore key without an expiry gets a tombstone that expires.
func TestDeleteTombstoneExpiry(t *testing.T) {
	for _, indexed := range []bool{false, true} {
		name := "IndexOff"
		if indexed {
			name = "IndexOn"
		}
		t.Run(name, func(t *testing.T) {
			clients(t, func(t *testing.T, c redis.UniversalClient) {
				ctx := context.Background()
				clock := storetest.NewClock(time.Now().Truncate(time.Millisecond))
				cfg := Config{Now: clock.Now}
				if indexed {
					cfg.Owner = storetest.Owner
				}
				s := newStore(t, c, cfg)
				skew := DefaultClockSkewMs()
				data := func(exp time.Time) []byte { return ownedData(t, "alice", exp) }

				// A session that outlives the tombstone lifetime.
				long := clock.Now().Add(48 * time.Hour)
				if err := s.Commit("long", data(long), long); err != nil {
					t.Fatal(err)
				}
				if err := s.Delete("long"); err != nil {
					t.Fatal(err)
				}
				if pxat, v := tombPXAT(t, c, s, "long"); pxat != ceilMs(long)+skew || v != tombValue {
					t.Errorf("long session: tombstone PXAT %d value %.20q, want %d %q", pxat, v, ceilMs(long)+skew, tombValue)
				}

				// A short one, deleted twice: the second Delete extends.
				short := clock.Now().Add(time.Minute)
				if err := s.Commit("short", data(short), short); err != nil {
					t.Fatal(err)
				}
				if err := s.Delete("short"); err != nil {
					t.Fatal(err)
				}
				want := ceilMs(clock.Now().Add(sessionstore.DefaultTombstoneLifetime)) + skew
				if pxat, v := tombPXAT(t, c, s, "short"); pxat != want || v != tombValue {
					t.Errorf("short session: tombstone PXAT %d value %q, want %d %q", pxat, v, want, tombValue)
				}
				clock.Advance(10 * time.Minute)
				if err := s.Delete("short"); err != nil {
					t.Fatal(err)
				}
				want = ceilMs(clock.Now().Add(sessionstore.DefaultTombstoneLifetime)) + skew
				if pxat, _ := tombPXAT(t, c, s, "short"); pxat != want {
					t.Errorf("second Delete: tombstone PXAT %d, want %d", pxat, want)
				}
				// A Delete with a clock behind never shortens it.
				s2, err := NewWithConfig(c, Config{Prefix: s.prefix, TombstonePrefix: s.tombPrefix, Owner: cfg.Owner,
					Now: func() time.Time { return clock.Now().Add(-5 * time.Minute) }})
				if err != nil {
					t.Fatal(err)
				}
				if err := s2.Delete("short"); err != nil {
					t.Fatal(err)
				}
				if pxat, _ := tombPXAT(t, c, s, "short"); pxat != want {
					t.Errorf("Delete by a clock behind: tombstone PXAT %d, want %d", pxat, want)
				}

				// goredisstore's Commit past the deadline leaves a key
				// without an expiry; its tombstone must still expire.
				if err := c.Set(ctx, s.sessionKey("legacy"), "gob bytes", 0).Err(); err != nil {
					t.Fatal(err)
				}
				if err := s.Delete("legacy"); err != nil {
					t.Fatal(err)
				}
				want = ceilMs(clock.Now().Add(sessionstore.DefaultTombstoneLifetime)) + skew
				if pxat, v := tombPXAT(t, c, s, "legacy"); pxat != want || v != tombValue {
					t.Errorf("legacy key without expiry: tombstone PXAT %d value %q, want %d %q", pxat, v, want, tombValue)
				}
				if n, _ := c.Exists(ctx, s.sessionKey("legacy")).Result(); n != 0 {
					t.Error("legacy session key left after Delete")
				}
			})
		})
	}
}

// cutHook runs only the first command of each pipeline and fails the rest,
// as a connection lost mid-pipeline would; a new connection's own set-up
// pipeline passes.
type cutHook struct{}

var setup = map[string]bool{"hello": true, "auth": true, "select": true, "client": true}

func (cutHook) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (cutHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (cutHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if len(cmds) < 2 || setup[cmds[0].Name()] {
			return next(ctx, cmds)
		}
		_ = next(ctx, cmds[:1])
		err := errors.New("injected: connection lost")
		for _, c := range cmds[1:] {
			c.SetErr(err)
		}
		return err
	}
}

// TestDeleteCutAfterRename: a Delete whose pipeline stops after its first
// command returns the error, and the logout is already final: Find finds
// nothing and a late Commit is refused for the session's lifetime. A retry
// completes the tombstone.
func TestDeleteCutAfterRename(t *testing.T) {
	c := single(t)
	cut := redis.NewClient(c.Options())
	t.Cleanup(func() { cut.Close() })
	cut.AddHook(cutHook{})
	s := newStore(t, c, Config{})
	sc, err := NewWithConfig(cut, Config{Prefix: s.prefix, TombstonePrefix: s.tombPrefix})
	if err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(time.Hour)
	if err := s.Commit("tok", []byte("secret"), exp); err != nil {
		t.Fatal(err)
	}
	if err := sc.Delete("tok"); err == nil {
		t.Fatal("cut Delete returned nil")
	}
	if _, ok, err := s.Find("tok"); ok || err != nil {
		t.Fatalf("Find after a cut Delete: found %v, err %v", ok, err)
	}
	if err := s.Commit("tok", []byte("late"), exp.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.Find("tok"); ok {
		t.Fatal("a late Commit after a cut Delete brought the session back")
	}
	if pxat, _ := tombPXAT(t, c, s, "tok"); pxat != ceilMs(exp)+DefaultClockSkewMs() {
		t.Errorf("cut Delete: tombstone PXAT %d, want the session's %d", pxat, ceilMs(exp)+DefaultClockSkewMs())
	}
	if err := s.Delete("tok"); err != nil {
		t.Fatal(err)
	}
	want := ceilMs(time.Now().Add(sessionstore.DefaultTombstoneLifetime)) + DefaultClockSkewMs()
	if pxat, v := tombPXAT(t, c, s, "tok"); pxat < want-1000 || v != tombValue {
		t.Errorf("retried Delete: tombstone PXAT %d value %q, want about %d and %q", pxat, v, want, tombValue)
	}
}

// fakeServer serves each connection with handle on a loopback port until
// the test ends, then closes every connection and waits for the handlers.
func fakeServer(t *testing.T, handle func(net.Conn)) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() { defer wg.Done(); handle(c) }()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// silent answers a go-redis client's connection set-up (HELLO with an
// error, so the client falls back to RESP2; CLIENT and SELECT with OK) and
// never answers anything else.
func silent(c net.Conn) {
	rd := bufio.NewReader(c)
	for {
		args, err := readCommand(rd)
		if err != nil {
			return
		}
		switch strings.ToUpper(args[0]) {
		case "HELLO":
			io.WriteString(c, "-ERR unknown command 'HELLO'\r\n")
		case "CLIENT", "SELECT", "PING":
			io.WriteString(c, "+OK\r\n")
		}
	}
}

// mute never answers.
func mute(c net.Conn) { io.Copy(io.Discard, c) }

// readCommand reads one RESP array of bulk strings.
func readCommand(rd *bufio.Reader) ([]string, error) {
	line := func() (string, error) {
		l, err := rd.ReadString('\n')
		return strings.TrimRight(l, "\r\n"), err
	}
	h, err := line()
	if err != nil || len(h) < 2 || h[0] != '*' {
		return nil, fmt.Errorf("bad command header %q: %v", h, err)
	}
	n, _ := strconv.Atoi(h[1:])
	args := make([]string, n)
	for i := range args {
		if _, err := line(); err != nil { // $len
			return nil, err
		}
		if args[i], err = line(); err != nil {
			return nil, err
		}
	}
	if n == 0 {
		return nil, errors.New("empty command")
	}
	return args, nil
}

// TestDeleteBounded: a Delete against a server that never answers ends by
// the store's Timeout, on a deadline-only context (a PoolTimeout within the
// Timeout) or on context.WithTimeout, even if the request's context is
// cancelled.
func TestDeleteBounded(t *testing.T) {
	addr := fakeServer(t, silent)
	for _, tc := range []struct {
		name      string
		pool      time.Duration
		deadlines bool
	}{
		{"DeadlineOnly", 100 * time.Millisecond, true},
		{"Timer", 0, false}, // go-redis's PoolTimeout, 4 s, exceeds the Timeout
	} {
		t.Run(tc.name, func(t *testing.T) {
			// go-redis applies a context's deadline to its socket only
			// with ContextTimeoutEnabled; otherwise ReadTimeout (3 s)
			// bounds the wait, whatever the store does.
			c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, PoolTimeout: tc.pool, ContextTimeoutEnabled: true})
			defer c.Close()
			s, err := NewWithConfig(c, Config{Timeout: 200 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			if s.deadlines != tc.deadlines {
				t.Fatalf("deadlines = %v, want %v", s.deadlines, tc.deadlines)
			}
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			start := time.Now()
			err = s.DeleteCtx(ctx, "tok")
			// Generous: the default ReadTimeout, 3 s, is what an
			// unbounded Delete would wait.
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("Delete took %v with a Timeout of 200ms", took)
			}
			if err == nil {
				t.Error("Delete against a silent server returned nil")
			}
		})
	}
}

// TestMuteServer: against a server that never answers, not even a new
// connection's set-up, go-redis fails a pipeline without setting its
// commands' errors. Delete and the index's pipelined scripts must still
// return the error, not a success or an empty result.
func TestMuteServer(t *testing.T) {
	addr := fakeServer(t, mute)
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, ReadTimeout: 100 * time.Millisecond})
	defer c.Close()
	s, err := NewWithConfig(c, Config{Owner: storetest.Owner})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.deleteTomb(context.Background(), "tok", time.Now().Add(time.Hour).UnixMilli()); err == nil {
		t.Error("Delete against a mute server returned nil")
	}
	cmds, err := s.evalEach(context.Background(), idxListScript, []string{"a", "b"}, func(tag string) ([]string, []any) {
		return []string{s.userBase(tag) + "alice"}, []any{s.prefix, s.tombPrefix, s.metaBase(tag)}
	})
	if err == nil {
		t.Errorf("evalEach against a mute server returned %d commands and no error", len(cmds))
	}
}

package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionstore/sessionstore"
)

func (s suite) testToken(t *testing.T) {
	malformed := []struct{ name, tok string }{
		{"Empty", ""},
		{"NULByte", "abc\x00def"},
		{"InvalidUTF8", "abc\xff\xfedef"},
		{"TooLong", strings.Repeat("a", sessionstore.MaxTokenLen+1)},
		{"TenKB", strings.Repeat("x", 10<<10)},
	}
	for _, m := range malformed {
		t.Run("Malformed"+m.name, func(t *testing.T) {
			e := s.env(t)
			e.notFound(m.tok)
			if err := e.store.Delete(m.tok); err != nil {
				t.Errorf("Delete of malformed token: %v, want nil", err)
			}
			err := e.store.Commit(m.tok, []byte("x"), e.now().Add(time.Hour))
			if !errors.Is(err, sessionstore.ErrInvalidToken) {
				t.Errorf("Commit of malformed token: %v, want an error matching sessionstore.ErrInvalidToken", err)
			}
			e.notFound(m.tok)
		})
	}
	valid := []struct{ name, tok string }{
		{"Longest", strings.Repeat("b", sessionstore.MaxTokenLen)},
		{"Unicode", "jeton-été-会话-" + token()},
		{"Punctuation", `a'b"c;--\%_` + token()},
	}
	for _, v := range valid {
		t.Run(v.name, func(t *testing.T) {
			e := s.env(t)
			e.commit(v.tok, []byte(v.name), e.now().Add(time.Hour))
			e.found(v.tok, []byte(v.name))
			e.del(v.tok)
			e.notFound(v.tok)
		})
	}
	t.Run("TrailingSpaces", func(t *testing.T) {
		// Tokens differ by trailing blanks only: a PAD SPACE collation
		// (MariaDB's utf8mb4_bin) would make them one session.
		e := s.env(t)
		base := "pad-" + token()
		toks := []string{base, base + "  ", base + " ", base + "\t", base + " \t "}
		for i, tok := range toks {
			e.commit(tok, []byte{byte('0' + i)}, e.now().Add(time.Hour))
		}
		for i, tok := range toks {
			e.found(tok, []byte{byte('0' + i)})
		}
		e.del(base + "  ")
		e.notFound(base + "  ")
		for i, tok := range toks {
			if i != 1 {
				e.found(tok, []byte{byte('0' + i)})
			}
		}
		// The tombstone of one does not block the others.
		e.commit(base, []byte("again"), e.now().Add(time.Hour))
		e.found(base, []byte("again"))
		e.commit(base+"  ", []byte("late"), e.now().Add(time.Hour))
		e.notFound(base + "  ")
		if it, ok := e.store.(IterableStore); ok {
			all, err := it.All()
			if err != nil {
				t.Fatal(err)
			}
			for i, tok := range toks {
				if _, ok := all[tok]; ok == (i == 1) {
					t.Errorf("All has %q: %v", tok, ok)
				}
			}
		}
	})
	t.Run("CaseSensitive", func(t *testing.T) {
		e := s.env(t)
		e.commit("AbCdEf"+token(), []byte("x"), e.now().Add(time.Hour))
		tok := "tOkEn-" + token()
		e.commit(tok, []byte("mixed"), e.now().Add(time.Hour))
		e.notFound(strings.ToUpper(tok))
		e.notFound(strings.ToLower(tok))
	})
}

func (s suite) testAll(t *testing.T) {
	t.Run("EmptyIsNonNil", func(t *testing.T) {
		e := s.env(t)
		it, ok := e.store.(IterableStore)
		if !ok {
			t.Skip("store has no All method")
		}
		all, err := it.All()
		if err != nil {
			t.Fatal(err)
		}
		if all == nil || len(all) != 0 {
			t.Fatalf("All on an empty store = %#v, want a non-nil empty map", all)
		}
	})
	t.Run("OnlyLive", func(t *testing.T) {
		e := s.env(t)
		it, ok := e.store.(IterableStore)
		if !ok {
			t.Skip("store has no All method")
		}
		want := map[string][]byte{}
		for i := range 3 {
			tok := token()
			want[tok] = []byte(fmt.Sprint("live", i))
			e.commit(tok, want[tok], e.now().Add(time.Hour))
		}
		e.commit(token(), []byte("expired"), e.now().Add(-time.Second))
		gone := token()
		e.commit(gone, []byte("deleted"), e.now().Add(time.Hour))
		e.del(gone)
		all, err := it.All()
		if err != nil {
			t.Fatal(err)
		}
		sameMap(t, "All", all, want)
		if c, ok := e.store.(IterableCtxStore); ok {
			all, err := c.AllCtx(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			sameMap(t, "AllCtx", all, want)
		}
	})
}

func sameMap(t *testing.T, what string, got, want map[string][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s returned %d sessions, want %d", what, len(got), len(want))
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || !bytes.Equal(g, v) {
			t.Errorf("%s[%.12q] = %q (present %v), want %q", what, k, g, ok, v)
		}
	}
}

func (s suite) testSessions(t *testing.T) {
	t.Run("EveryLiveOnce", func(t *testing.T) {
		e := s.env(t)
		it, ok := e.store.(SessionIterator)
		if !ok {
			t.Skip("store has no Sessions iterator")
		}
		const n = 2500 // more than a page of any paginated store
		want := make(map[string]bool, n)
		for i := range n {
			tok := fmt.Sprintf("live-%05d-%s", i, token()[:8])
			want[tok] = true
			e.commit(tok, []byte(tok), e.now().Add(time.Hour))
		}
		for range 10 {
			e.commit(token(), []byte("expired"), e.now().Add(-time.Second))
		}
		// Others keep committing while we iterate.
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil && i < 5000; i++ {
				if err := e.store.Commit(fmt.Sprintf("new-%05d", i), []byte("n"), e.now().Add(time.Hour)); err != nil {
					t.Errorf("concurrent Commit: %v", err)
					return
				}
			}
		}()
		seen := make(map[string]int, n)
		for sess, err := range it.Sessions(context.Background()) {
			if err != nil {
				cancel()
				wg.Wait()
				t.Fatalf("Sessions: %v", err)
			}
			seen[sess.Token]++
			if !sess.Expiry.After(e.now()) {
				t.Errorf("Sessions yielded %.20q, expired at %v", sess.Token, sess.Expiry)
			}
			if strings.HasPrefix(sess.Token, "live-") && !bytes.Equal(sess.Data, []byte(sess.Token)) {
				t.Errorf("Sessions yielded %.20q with data %s", sess.Token, abbrev(sess.Data))
			}
		}
		cancel()
		wg.Wait()
		for tok, c := range seen {
			if c != 1 {
				t.Errorf("Sessions yielded %.20q %d times", tok, c)
			}
			if !want[tok] && !strings.HasPrefix(tok, "new-") {
				t.Errorf("Sessions yielded %.20q, which is not live", tok)
			}
		}
		for tok := range want {
			if seen[tok] == 0 {
				t.Errorf("Sessions never yielded live session %.20q", tok)
			}
		}
	})
	t.Run("Break", func(t *testing.T) {
		e := s.env(t)
		it, ok := e.store.(SessionIterator)
		if !ok {
			t.Skip("store has no Sessions iterator")
		}
		for range 20 {
			e.commit(token(), []byte("x"), e.now().Add(time.Hour))
		}
		n := 0
		for _, err := range it.Sessions(context.Background()) {
			if err != nil {
				t.Fatal(err)
			}
			if n++; n == 5 {
				break
			}
		}
		// The store still works after an abandoned iteration.
		tok := token()
		e.commit(tok, []byte("after"), e.now().Add(time.Hour))
		e.found(tok, []byte("after"))
	})
}

func (s suite) testContext(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	t.Run("CancelledFindAndCommitFail", func(t *testing.T) {
		e := s.env(t)
		cs, ok := e.store.(CtxStore)
		if !ok {
			t.Skip("store has no context methods")
		}
		tok := token()
		e.commit(tok, []byte("v1"), e.now().Add(time.Hour))
		if _, _, err := cs.FindCtx(cancelled, tok); !errors.Is(err, context.Canceled) {
			t.Errorf("FindCtx with a cancelled context: err = %v, want context.Canceled", err)
		}
		if err := cs.CommitCtx(cancelled, tok, []byte("v2"), e.now().Add(time.Hour)); !errors.Is(err, context.Canceled) {
			t.Errorf("CommitCtx with a cancelled context: err = %v, want context.Canceled", err)
		}
		e.found(tok, []byte("v1"))
		if a, ok := e.store.(IterableCtxStore); ok {
			if _, err := a.AllCtx(cancelled); !errors.Is(err, context.Canceled) {
				t.Errorf("AllCtx with a cancelled context: err = %v, want context.Canceled", err)
			}
		}
	})
	t.Run("CancelledDeleteCompletes", func(t *testing.T) {
		e := s.env(t)
		cs, ok := e.store.(CtxStore)
		if !ok {
			t.Skip("store has no context methods")
		}
		tok := token()
		e.commit(tok, []byte("x"), e.now().Add(time.Hour))
		if err := cs.DeleteCtx(cancelled, tok); err != nil {
			t.Errorf("DeleteCtx with a cancelled context: %v, want nil (logout must complete)", err)
		}
		e.notFound(tok)
		// And the deletion still blocks a late commit.
		if err := e.store.Commit(tok, []byte("x"), e.now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		e.notFound(tok)
	})
	t.Run("FindCtx", func(t *testing.T) {
		e := s.env(t)
		cs, ok := e.store.(CtxStore)
		if !ok {
			t.Skip("store has no context methods")
		}
		tok := token()
		if err := cs.CommitCtx(context.Background(), tok, []byte("ctx"), e.now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		got, ok, err := cs.FindCtx(context.Background(), tok)
		if err != nil || !ok || string(got) != "ctx" {
			t.Fatalf("FindCtx = %q, %v, %v; want \"ctx\", true, nil", got, ok, err)
		}
		if err := cs.DeleteCtx(context.Background(), tok); err != nil {
			t.Fatal(err)
		}
		e.notFound(tok)
	})
}

func (s suite) testConcurrency(t *testing.T) {
	e := s.env(t)
	const workers, ops = 64, 40
	shared := token()
	e.commit(shared, []byte("shared-0"), e.now().Add(time.Hour))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			own := token()
			for i := range ops {
				data := []byte(fmt.Sprintf("w%d-%d", w, i))
				if err := e.store.Commit(own, data, e.now().Add(time.Hour)); err != nil {
					t.Errorf("Commit: %v", err)
					return
				}
				got, ok, err := e.store.Find(own)
				if err != nil || !ok || !bytes.Equal(got, data) {
					t.Errorf("Find(own) = %q, %v, %v; want %q", got, ok, err, data)
					return
				}
				if err := e.store.Commit(shared, data, e.now().Add(time.Hour)); err != nil {
					t.Errorf("Commit(shared): %v", err)
					return
				}
				got, ok, err = e.store.Find(shared)
				if err != nil || !ok || !bytes.HasPrefix(got, []byte("w")) {
					t.Errorf("Find(shared) = %q, %v, %v", got, ok, err)
					return
				}
			}
			if err := e.store.Delete(own); err != nil {
				t.Errorf("Delete: %v", err)
			}
		}()
	}
	wg.Wait()
}

func (s suite) testDeleteExpired(t *testing.T) {
	e := s.env(t)
	d, ok := e.store.(ExpiredDeleter)
	if !ok {
		t.Skip("store has no DeleteExpired method")
	}
	ttl := 150 * time.Millisecond
	if e.clock != nil {
		ttl = time.Minute
	}
	start := e.now()
	var short, long []string
	for range 5 {
		tok := token()
		short = append(short, tok)
		e.commit(tok, []byte("short"), e.now().Add(ttl))
	}
	for range 3 {
		tok := token()
		long = append(long, tok)
		e.commit(tok, []byte("long"), e.now().Add(time.Hour))
	}
	e.wait(ttl * 2)
	n, err := d.DeleteExpired(context.Background())
	if err != nil {
		t.Fatalf("DeleteExpired: %v", err)
	}
	if n < 5 {
		t.Errorf("DeleteExpired = %d, want at least 5", n)
	}
	if e.clock != nil {
		e.clock.Set(start) // back in time: deleted rows must really be gone
		for _, tok := range short {
			e.notFound(tok)
		}
	}
	for _, tok := range long {
		e.found(tok, []byte("long"))
	}
	if n, err := d.DeleteExpired(context.Background()); err != nil || n != 0 {
		t.Errorf("second DeleteExpired = %d, %v; want 0, nil", n, err)
	}
}

// testStopCleanup stops the cleanup twice and from several goroutines at
// once: each call must return (StopCleanup waits for the loop to exit), and
// the store must keep serving. Whether the loop's goroutine is really gone
// is for goleak.VerifyTestMain in the store's package: a check here would
// also see the goroutines of tests running in parallel.
func (s suite) testStopCleanup(t *testing.T) {
	e := s.env(t)
	st, ok := e.store.(CleanupStopper)
	if !ok {
		t.Skip("store has no StopCleanup method")
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		st.StopCleanup()
		st.StopCleanup()
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() { defer wg.Done(); st.StopCleanup() }()
		}
		wg.Wait()
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("StopCleanup did not return within 30 s")
	}
	// The store still serves requests without its cleanup loop.
	tok := token()
	e.commit(tok, []byte("x"), e.now().Add(time.Hour))
	e.found(tok, []byte("x"))
}

package storetest

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

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

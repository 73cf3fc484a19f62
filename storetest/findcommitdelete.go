package storetest

import (
	"bytes"
	"testing"
	"time"
)

func (s suite) testFind(t *testing.T) {
	t.Run("Hit", func(t *testing.T) {
		e := s.env(t)
		tok := token()
		e.commit(tok, []byte("hello"), e.now().Add(time.Hour))
		e.found(tok, []byte("hello"))
	})
	t.Run("Miss", func(t *testing.T) {
		e := s.env(t)
		e.notFound(token())
	})
	t.Run("Expired", func(t *testing.T) {
		e := s.env(t)
		tok := token()
		ttl := 150 * time.Millisecond
		if e.clock != nil {
			ttl = time.Minute
		}
		e.commit(tok, []byte("x"), e.now().Add(ttl))
		e.found(tok, []byte("x"))
		e.wait(ttl + ttl/2)
		e.notFound(tok)
	})
	t.Run("ExpiryIsStrict", func(t *testing.T) {
		e := s.env(t)
		if e.clock == nil {
			t.Skip("needs an injected clock (storetest.RunWithClock)")
		}
		tok := token()
		expiry := e.now().Add(time.Minute)
		e.commit(tok, []byte("x"), expiry)
		e.clock.Set(expiry.Add(-time.Microsecond))
		e.found(tok, []byte("x"))
		e.clock.Set(expiry)
		e.notFound(tok) // live means expiry strictly after now
	})
	t.Run("AfterDelete", func(t *testing.T) {
		e := s.env(t)
		tok := token()
		e.commit(tok, []byte("x"), e.now().Add(time.Hour))
		e.del(tok)
		e.notFound(tok)
	})
	t.Run("ReturnsCopy", func(t *testing.T) {
		e := s.env(t)
		tok := token()
		e.commit(tok, []byte("abc"), e.now().Add(time.Hour))
		got, _, _ := e.store.Find(tok)
		for i := range got {
			got[i] = 'z'
		}
		e.found(tok, []byte("abc"))
	})
}

func (s suite) testCommit(t *testing.T) {
	t.Run("New", func(t *testing.T) {
		e := s.env(t)
		a, b := token(), token()
		e.commit(a, []byte("a"), e.now().Add(time.Hour))
		e.commit(b, []byte("b"), e.now().Add(time.Hour))
		e.found(a, []byte("a"))
		e.found(b, []byte("b"))
	})
	t.Run("OverwritesData", func(t *testing.T) {
		e := s.env(t)
		tok := token()
		e.commit(tok, []byte("first"), e.now().Add(time.Hour))
		e.commit(tok, []byte("second"), e.now().Add(time.Hour))
		e.found(tok, []byte("second"))
	})
	t.Run("ShortensExpiry", func(t *testing.T) {
		e := s.env(t)
		tok := token()
		e.commit(tok, []byte("x"), e.now().Add(time.Hour))
		e.commit(tok, []byte("x"), e.now().Add(-time.Second))
		e.notFound(tok)
	})
	t.Run("ExtendsExpiry", func(t *testing.T) {
		e := s.env(t)
		tok := token()
		ttl := 150 * time.Millisecond
		if e.clock != nil {
			ttl = time.Minute
		}
		e.commit(tok, []byte("x"), e.now().Add(ttl))
		e.commit(tok, []byte("y"), e.now().Add(time.Hour))
		e.wait(ttl * 2)
		e.found(tok, []byte("y"))
	})
	t.Run("RevivesExpired", func(t *testing.T) {
		// An expired (not deleted) row is replaced by a new commit.
		e := s.env(t)
		tok := token()
		e.commit(tok, []byte("old"), e.now().Add(-time.Minute))
		e.commit(tok, []byte("new"), e.now().Add(time.Hour))
		e.found(tok, []byte("new"))
	})
	t.Run("CopiesInput", func(t *testing.T) {
		e := s.env(t)
		tok := token()
		buf := []byte("original")
		e.commit(tok, buf, e.now().Add(time.Hour))
		copy(buf, "CHANGED!")
		e.found(tok, []byte("original"))
	})
	t.Run("PastExpiryIsNotFound", func(t *testing.T) {
		e := s.env(t)
		tok := token()
		e.commit(tok, []byte("x"), e.now().Add(-time.Second))
		e.notFound(tok)
	})
}

func (s suite) testDelete(t *testing.T) {
	t.Run("Idempotent", func(t *testing.T) {
		e := s.env(t)
		tok := token()
		e.del(tok) // never existed
		e.commit(tok, []byte("x"), e.now().Add(time.Hour))
		e.del(tok)
		e.del(tok)
		e.notFound(tok)
	})
	t.Run("OnlyThatToken", func(t *testing.T) {
		e := s.env(t)
		a, b := token(), token()
		e.commit(a, []byte("a"), e.now().Add(time.Hour))
		e.commit(b, []byte("b"), e.now().Add(time.Hour))
		e.del(a)
		e.notFound(a)
		e.found(b, []byte("b"))
	})
	t.Run("NoResurrection", func(t *testing.T) {
		// A request still in flight when the user logged out commits the
		// session it loaded: that commit must not bring the session back.
		e := s.env(t)
		tok := token()
		expiry := e.now().Add(time.Hour)
		e.commit(tok, []byte("signed-in"), expiry)
		e.del(tok)
		if err := e.store.Commit(tok, []byte("signed-in"), expiry); err != nil {
			t.Fatalf("Commit after Delete: %v, want nil (a no-op)", err)
		}
		e.notFound(tok)
		if it, ok := e.store.(IterableStore); ok {
			all, err := it.All()
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := all[tok]; ok {
				t.Fatal("All returns the deleted session after a Commit")
			}
		}
	})
}

func (s suite) testPayload(t *testing.T) {
	every := make([]byte, 512)
	for i := range every {
		every[i] = byte(i)
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	for i := range big {
		big[i] ^= byte(i * 7)
	}
	cases := []struct {
		name string
		data []byte
	}{
		{"Empty", []byte{}},
		{"Nil", nil},
		{"EveryByteValue", every},
		{"InvalidUTF8", []byte{0xff, 0xfe, 0x00, 0xc3, 0x28}},
		{"OneMiB", big},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := s.env(t)
			tok := token()
			e.commit(tok, c.data, e.now().Add(time.Hour))
			want := c.data
			if want == nil {
				want = []byte{}
			}
			e.found(tok, want)
		})
	}
}

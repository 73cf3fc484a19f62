package storetest

import (
	"bytes"
	"testing"
	"time"

	"github.com/sessionstore/sessionstore"
)

// testSave checks that a store with SCS v1's Save method gives it Commit's
// meaning: the same writes, the same copy, the same tombstone rule and the
// same refusals. A store without Save skips it.
func (s suite) testSave(t *testing.T) {
	v1 := func(t *testing.T) (*env, sessionstore.V1Store) {
		t.Helper()
		e := s.env(t)
		st, ok := e.store.(sessionstore.V1Store)
		if !ok {
			t.Skip("the store has no Save (SCS v1's Store interface)")
		}
		return e, st
	}
	save := func(t *testing.T, st sessionstore.V1Store, tok string, b []byte, expiry time.Time) {
		t.Helper()
		if err := st.Save(tok, b, expiry); err != nil {
			t.Fatalf("Save(%.20q): %v", tok, err)
		}
	}
	t.Run("IsCommit", func(t *testing.T) {
		e, st := v1(t)
		tok := token()
		save(t, st, tok, []byte("saved"), e.now().Add(time.Hour))
		e.found(tok, []byte("saved"))
		e.commit(tok, []byte("committed"), e.now().Add(time.Hour))
		e.found(tok, []byte("committed"))
		save(t, st, tok, []byte("saved again"), e.now().Add(time.Hour))
		e.found(tok, []byte("saved again"))
		save(t, st, tok, []byte("x"), e.now().Add(-time.Second))
		e.notFound(tok)
	})
	t.Run("CopiesInput", func(t *testing.T) {
		e, st := v1(t)
		tok := token()
		b := []byte("abc")
		save(t, st, tok, b, e.now().Add(time.Hour))
		copy(b, "zzz")
		e.found(tok, []byte("abc"))
	})
	t.Run("NoResurrection", func(t *testing.T) {
		e, st := v1(t)
		tok := token()
		save(t, st, tok, []byte("x"), e.now().Add(time.Hour))
		e.del(tok)
		save(t, st, tok, []byte("back"), e.now().Add(2*time.Hour))
		e.notFound(tok)
	})
	t.Run("InvalidTokenFails", func(t *testing.T) {
		_, st := v1(t)
		for _, tok := range []string{"", "a\x00b", string(bytes.Repeat([]byte("a"), sessionstore.MaxTokenLen+1))} {
			if err := st.Save(tok, []byte("x"), time.Now().Add(time.Hour)); err == nil {
				t.Errorf("Save(%.20q) = nil, want the error Commit gives", tok)
			}
		}
	})
}

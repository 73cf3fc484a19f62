package storetest

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"testing"
	"time"
)

// env is what one subtest works with: a fresh store and its clock.
type env struct {
	t     *testing.T
	store Store
	clock *Clock // nil under Run
}

func (s suite) env(t *testing.T) *env {
	t.Helper()
	st, c := s.newStore(t)
	return &env{t: t, store: st, clock: c}
}

// now is the store's idea of the current time.
func (e *env) now() time.Time {
	if e.clock != nil {
		return e.clock.Now()
	}
	return time.Now()
}

// token returns a fresh random token shaped like an SCS token.
func token() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (e *env) commit(tok string, data []byte, expiry time.Time) {
	e.t.Helper()
	if err := e.store.Commit(tok, data, expiry); err != nil {
		e.t.Fatalf("Commit(%.20q): %v", tok, err)
	}
}

func (e *env) del(tok string) {
	e.t.Helper()
	if err := e.store.Delete(tok); err != nil {
		e.t.Fatalf("Delete(%.20q): %v", tok, err)
	}
}

// found asserts that tok is found with exactly want.
func (e *env) found(tok string, want []byte) {
	e.t.Helper()
	got, ok, err := e.store.Find(tok)
	if err != nil {
		e.t.Fatalf("Find(%.20q): %v", tok, err)
	}
	if !ok {
		e.t.Fatalf("Find(%.20q): not found, want found", tok)
	}
	if !bytes.Equal(got, want) {
		e.t.Fatalf("Find(%.20q) = %s, want %s", tok, abbrev(got), abbrev(want))
	}
}

// notFound asserts that tok is not found, without error.
func (e *env) notFound(tok string) {
	e.t.Helper()
	got, ok, err := e.store.Find(tok)
	if err != nil {
		e.t.Fatalf("Find(%.20q): %v, want not found and nil error", tok, err)
	}
	if ok {
		e.t.Fatalf("Find(%.20q) = %s, found; want not found", tok, abbrev(got))
	}
}

// wait lets d pass: on the injected clock if there is one, else for real.
func (e *env) wait(d time.Duration) {
	if e.clock != nil {
		e.clock.Advance(d)
		return
	}
	time.Sleep(d)
}

func abbrev(b []byte) string {
	if len(b) > 40 {
		return fmt.Sprintf("%q... (%d bytes)", b[:40], len(b))
	}
	return fmt.Sprintf("%q", b)
}

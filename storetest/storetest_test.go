package storetest_test

import (
	"context"
	"fmt"
	"iter"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionstore/sessionstore"
	"github.com/sessionstore/sessionstore/internal/tombstone"
	"github.com/sessionstore/sessionstore/storetest"
)

// refStore is the simplest store that keeps the whole contract. Its flaws
// can be switched on one at a time, to show that the suite catches each.
type refStore struct {
	mu       sync.Mutex
	now      func() time.Time
	sessions map[string]sessionstore.Session
	deleted  map[string]time.Time

	noCopy, resurrects, servesExpired bool
	// saveResurrects makes Save write past a tombstone, as Commit must not.
	saveResurrects bool
	// tombOldExpiry keeps a tombstone only until the session's own expiry,
	// and cleans it up on the dot; anyExpiry takes expiries outside
	// [sessionstore.MinExpiry, sessionstore.MaxExpiry].
	tombOldExpiry, anyExpiry bool

	// With owner set, the store keeps a per-user index (index_test.go).
	owner sessionstore.OwnerFunc
	meta  map[string]refMeta
	// indexFlaw, if set, breaks the index in one way (see index_test.go).
	indexFlaw string
}

func newRef(now func() time.Time) *refStore {
	return &refStore{now: now, sessions: map[string]sessionstore.Session{}, deleted: map[string]time.Time{}}
}

func (s *refStore) Find(tok string) ([]byte, bool, error) {
	return s.FindCtx(context.Background(), tok)
}

func (s *refStore) FindCtx(ctx context.Context, tok string) ([]byte, bool, error) {
	if !sessionstore.ValidToken(tok) {
		return nil, false, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.sessions[tok]
	if !ok || (!s.servesExpired && !sess.Expiry.After(s.now())) {
		return nil, false, nil
	}
	if s.noCopy {
		return sess.Data, true, nil
	}
	return append([]byte{}, sess.Data...), true, nil
}

func (s *refStore) Commit(tok string, b []byte, expiry time.Time) error {
	return s.CommitCtx(context.Background(), tok, b, expiry)
}

func (s *refStore) CommitCtx(ctx context.Context, tok string, b []byte, expiry time.Time) error {
	if !sessionstore.ValidToken(tok) {
		return fmt.Errorf("ref: commit: %w", sessionstore.ErrInvalidToken)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := sessionstore.CheckExpiry(expiry); err != nil && !s.anyExpiry {
		return fmt.Errorf("ref: commit: %w", err)
	}
	var owner string
	if s.owner != nil {
		var err error
		if owner, err = s.owner(b); err != nil && s.indexFlaw != "unchecked owner" {
			return fmt.Errorf("ref: commit: %w", err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, gone := s.deleted[tok]; gone && !s.resurrects {
		return nil
	}
	if s.owner != nil {
		s.indexCommit(ctx, tok, owner)
	}
	if !s.noCopy {
		b = append([]byte{}, b...)
	}
	s.sessions[tok] = sessionstore.Session{Token: tok, Data: b, Expiry: expiry}
	return nil
}

func (s *refStore) Save(tok string, b []byte, expiry time.Time) error {
	if s.saveResurrects {
		s.mu.Lock()
		delete(s.deleted, tok)
		s.mu.Unlock()
	}
	return s.Commit(tok, b, expiry)
}

func (s *refStore) Delete(tok string) error { return s.DeleteCtx(context.Background(), tok) }

func (s *refStore) DeleteCtx(_ context.Context, tok string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sess, ok := s.sessions[tok]; ok {
		until := sess.Expiry
		if !s.tombOldExpiry {
			until = policy.Expiry(sess.Expiry, s.now())
		}
		s.deleted[tok] = until
		delete(s.sessions, tok)
	}
	return nil
}

func (s *refStore) All() (map[string][]byte, error) { return s.AllCtx(context.Background()) }

func (s *refStore) AllCtx(ctx context.Context) (map[string][]byte, error) {
	all := map[string][]byte{}
	for sess, err := range s.Sessions(ctx) {
		if err != nil {
			return nil, err
		}
		all[sess.Token] = sess.Data
	}
	return all, nil
}

func (s *refStore) Sessions(ctx context.Context) iter.Seq2[sessionstore.Session, error] {
	return func(yield func(sessionstore.Session, error) bool) {
		if err := ctx.Err(); err != nil {
			yield(sessionstore.Session{}, err)
			return
		}
		s.mu.Lock()
		var live []sessionstore.Session
		for _, sess := range s.sessions {
			if sess.Expiry.After(s.now()) {
				sess.Data = append([]byte{}, sess.Data...)
				live = append(live, sess)
			}
		}
		s.mu.Unlock()
		for _, sess := range live {
			if !yield(sess, nil) {
				return
			}
		}
	}
}

func (s *refStore) DeleteExpired(context.Context) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	for tok, sess := range s.sessions {
		if !sess.Expiry.After(s.now()) {
			delete(s.sessions, tok)
			n++
		}
	}
	cutoff := policy.Cutoff(s.now())
	if s.tombOldExpiry {
		cutoff = s.now()
	}
	for tok, exp := range s.deleted {
		if !exp.After(cutoff) {
			delete(s.deleted, tok)
			n++
		}
	}
	return n, nil
}

func (s *refStore) StopCleanup() {}

// policy is the reference store's tombstone rule: the defaults.
var policy, _ = tombstone.New(0, 0)

func TestReferenceStore(t *testing.T) {
	storetest.RunWithClock(t, func(t *testing.T, now func() time.Time) storetest.Store {
		return newRef(now)
	})
}

func TestReferenceStoreRealClock(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Store { return newRef(time.Now) })
}

// TestBrokenStore is run in a child process by TestSuiteCatchesBrokenStores,
// with one flaw switched on; on its own it does nothing.
func TestBrokenStore(t *testing.T) {
	flaw := os.Getenv("STORETEST_FLAW")
	if flaw == "" {
		t.Skip("run by TestSuiteCatchesBrokenStores")
	}
	storetest.RunWithClock(t, func(t *testing.T, now func() time.Time) storetest.Store {
		s := newRef(now)
		switch flaw {
		case "noCopy":
			s.noCopy = true
		case "resurrects":
			s.resurrects = true
		case "servesExpired":
			s.servesExpired = true
		case "tombOldExpiry":
			s.tombOldExpiry = true
		case "anyExpiry":
			s.anyExpiry = true
		case "saveResurrects":
			s.saveResurrects = true
		}
		return s
	})
}

func TestSuiteCatchesBrokenStores(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the suite in child processes")
	}
	cases := []struct {
		flaw     string
		mustFail []string // subtests that must name the broken promise
	}{
		{"noCopy", []string{"Commit/CopiesInput", "Find/ReturnsCopy"}},
		{"resurrects", []string{"Delete/NoResurrection", "Context/CancelledDeleteCompletes"}},
		{"servesExpired", []string{"Find/Expired", "Find/ExpiryIsStrict", "Commit/ShortensExpiry", "Commit/PastExpiryIsNotFound"}},
		{"tombOldExpiry", []string{"Tombstone/OutlivesOldExpiry", "Tombstone/HeldForLifetime", "Tombstone/CleanupAheadKeepsIt"}},
		{"saveResurrects", []string{"Save/NoResurrection"}},
		{"anyExpiry", []string{"Expiry/OutOfRangeZero", "Expiry/OutOfRangeYear10000", "Expiry/OutOfRangeUnix1Shl62"}},
	}
	for _, c := range cases {
		t.Run(c.flaw, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "-test.run=^TestBrokenStore$", "-test.v")
			cmd.Env = append(os.Environ(), "STORETEST_FLAW="+c.flaw)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the suite passed a store with flaw %s:\n%s", c.flaw, out)
			}
			for _, name := range c.mustFail {
				if !strings.Contains(string(out), "--- FAIL: TestBrokenStore/"+name) {
					t.Errorf("flaw %s: subtest %s did not fail", c.flaw, name)
				}
			}
		})
	}
}

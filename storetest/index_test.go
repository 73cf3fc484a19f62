package storetest_test

import (
	"context"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sessionstore/sessionstore"
	"github.com/sessionstore/sessionstore/storetest"
)

// refMeta is the reference store's index entry of a token.
type refMeta struct {
	owner             string
	created, lastSeen time.Time
	client            sessionstore.Client
}

func newIndexedRef(now func() time.Time) *refStore {
	s := newRef(now)
	s.owner = storetest.Owner
	s.meta = map[string]refMeta{}
	return s
}

// indexCommit updates tok's index entry; s.mu is held.
func (s *refStore) indexCommit(ctx context.Context, tok, owner string) {
	m, ok := s.meta[tok]
	if !ok || m.owner != owner {
		m = refMeta{owner: owner, created: s.now(), client: m.client}
	}
	m.lastSeen = s.now()
	if c, ok := sessionstore.ClientFromContext(ctx); ok && s.indexFlaw != "no client" {
		m.client = c
	}
	s.meta[tok] = m
}

// tokens returns the live tokens of user; s.mu is held.
func (s *refStore) tokens(user string) []string {
	var toks []string
	for tok, m := range s.meta {
		sess, ok := s.sessions[tok]
		if !ok {
			if s.indexFlaw == "lists deleted" && m.owner == user {
				toks = append(toks, tok)
			}
			continue
		}
		if m.owner == user && user != "" && (sess.Expiry.After(s.now()) || s.indexFlaw == "lists expired") {
			toks = append(toks, tok)
		}
	}
	return toks
}

func (s *refStore) UserSessions(_ context.Context, user string) ([]sessionstore.UserSession, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var list []sessionstore.UserSession
	for _, tok := range s.tokens(user) {
		m := s.meta[tok]
		list = append(list, sessionstore.UserSession{
			ID: sessionstore.SessionID(tok), Created: m.created, LastSeen: m.lastSeen,
			Expiry: s.sessions[tok].Expiry, UserAgent: m.client.UserAgent, IP: m.client.IP,
		})
	}
	slices.SortFunc(list, func(a, b sessionstore.UserSession) int { return b.LastSeen.Compare(a.LastSeen) })
	return list, nil
}

func (s *refStore) CountUserSessions(_ context.Context, user string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.tokens(user)), nil
}

func (s *refStore) DeleteUserSession(ctx context.Context, user, id string) (bool, error) {
	s.mu.Lock()
	var match string
	for _, tok := range s.tokens(user) {
		if sessionstore.SessionID(tok) == id {
			match = tok
		}
	}
	s.mu.Unlock()
	if match == "" {
		return false, nil
	}
	return true, s.DeleteCtx(ctx, match)
}

func (s *refStore) DeleteUserSessions(ctx context.Context, user string) (int, error) {
	return s.DeleteUserSessionsExcept(ctx, user)
}

func (s *refStore) DeleteUserSessionsExcept(ctx context.Context, user string, keep ...string) (int, error) {
	s.mu.Lock()
	toks := s.tokens(user)
	s.mu.Unlock()
	n := 0
	for _, tok := range toks {
		if slices.Contains(keep, tok) {
			continue
		}
		if s.indexFlaw == "revoke without tombstone" {
			s.mu.Lock()
			delete(s.sessions, tok)
			s.mu.Unlock()
		} else if err := s.DeleteCtx(ctx, tok); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

func TestIndexSuite(t *testing.T) {
	storetest.RunWithOptions(t, func(t *testing.T, now func() time.Time) storetest.Store {
		return newRef(now)
	}, storetest.Options{Indexed: func(t *testing.T, now func() time.Time) storetest.Store {
		return newIndexedRef(now)
	}})
}

// TestIndexFlaw is run in a child process by TestIndexSuiteCatchesFlaws,
// with one flaw of the index switched on; on its own it does nothing.
func TestIndexFlaw(t *testing.T) {
	flaw := os.Getenv("STORETEST_INDEX_FLAW")
	if flaw == "" {
		t.Skip("run by TestIndexSuiteCatchesFlaws")
	}
	storetest.RunWithOptions(t, func(t *testing.T, now func() time.Time) storetest.Store {
		return newRef(now)
	}, storetest.Options{Indexed: func(t *testing.T, now func() time.Time) storetest.Store {
		s := newIndexedRef(now)
		s.indexFlaw = flaw
		return s
	}})
}

func TestIndexSuiteCatchesFlaws(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the suite in child processes")
	}
	cases := []struct {
		flaw     string
		mustFail []string // Index subtests that must name the broken promise
	}{
		{"unchecked owner", []string{"BadOwner"}},
		{"no client", []string{"Metadata"}},
		{"lists deleted", []string{"DeleteOne", "DeleteAll", "AfterDelete", "RenewToken", "TombstonedNeverListed", "ListedAreLive"}},
		{"lists expired", []string{"AfterExpiry", "ListedAreLive"}},
		{"revoke without tombstone", []string{"DeleteAll", "DeleteAllButCurrent", "DeleteAllRacingCommits"}},
	}
	for _, c := range cases {
		t.Run(c.flaw, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "-test.run=^TestIndexFlaw$", "-test.v")
			cmd.Env = append(os.Environ(), "STORETEST_INDEX_FLAW="+c.flaw)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the suite passed an index with flaw %s:\n%s", c.flaw, out)
			}
			for _, name := range c.mustFail {
				if !strings.Contains(string(out), "--- FAIL: TestIndexFlaw/Index/"+name) {
					t.Errorf("flaw %s: subtest Index/%s did not fail", c.flaw, name)
				}
			}
		})
	}
}

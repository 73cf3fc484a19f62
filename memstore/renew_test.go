package memstore_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sessionstore/sessionstore/memstore"
)

// A session renewed to a later expiry within the same second of the expiry
// index is not removed at its old expiry, and is removed at its new one.
func TestDeleteExpiredAfterRenewalInSameBucket(t *testing.T) {
	base := time.Now().Truncate(time.Second).Add(time.Hour)
	now := base.Add(-time.Hour)
	s := mustNew(t, memstore.Config{CleanupInterval: -1, CleanupBatchSize: 3, Now: func() time.Time { return now }})
	for i := range 10 {
		tok := fmt.Sprint("renewed", i)
		if err := s.Commit(tok, []byte("old"), base.Add(time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		if err := s.Commit(tok, []byte("new"), base.Add(500*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
	}
	now = base.Add(100 * time.Millisecond)
	if n, err := s.DeleteExpired(context.Background()); err != nil || n != 0 {
		t.Fatalf("DeleteExpired before the renewed expiry = %d, %v; want 0", n, err)
	}
	for i := range 10 {
		if b, ok, _ := s.Find(fmt.Sprint("renewed", i)); !ok || string(b) != "new" {
			t.Fatalf("renewed session %d: %q, %v", i, b, ok)
		}
	}
	now = base.Add(500 * time.Millisecond)
	if n, err := s.DeleteExpired(context.Background()); err != nil || n != 10 {
		t.Fatalf("DeleteExpired at the renewed expiry = %d, %v; want 10", n, err)
	}
}

// A session moved to an earlier expiry within the same second is removed
// at the earlier one.
func TestDeleteExpiredAfterShorteningInSameBucket(t *testing.T) {
	base := time.Now().Truncate(time.Second).Add(time.Hour)
	now := base.Add(-time.Hour)
	s := mustNew(t, memstore.Config{CleanupInterval: -1, Now: func() time.Time { return now }})
	if err := s.Commit("shortened", []byte("x"), base.Add(900*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit("shortened", []byte("x"), base.Add(100*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	now = base.Add(200 * time.Millisecond)
	if n, err := s.DeleteExpired(context.Background()); err != nil || n != 1 {
		t.Fatalf("DeleteExpired = %d, %v; want 1", n, err)
	}
	if all, _ := s.All(); len(all) != 0 {
		t.Fatalf("All after cleanup = %v", all)
	}
}

// A tombstone lasts for the tombstone lifetime past the Delete (the session
// here would have expired long before), and ClockSkew more; after that
// cleanup removes it, once, and the token can be used again.
func TestTombstoneExpires(t *testing.T) {
	now := time.Now()
	s := mustNew(t, memstore.Config{CleanupInterval: -1, MaxSessions: 64 * 2, Now: func() time.Time { return now },
		TombstoneLifetime: 10 * time.Minute, ClockSkew: time.Minute})
	if err := s.Commit("tok", []byte("a"), now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete("tok"); err != nil {
		t.Fatal(err)
	}
	now = now.Add(10*time.Minute + 59*time.Second) // past the lifetime, within the skew
	if n, err := s.DeleteExpired(context.Background()); err != nil || n != 0 {
		t.Fatalf("DeleteExpired within ClockSkew of the tombstone's expiry = %d, %v; want 0", n, err)
	}
	if err := s.Commit("tok", []byte("b"), now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.Find("tok"); ok {
		t.Fatal("a Commit after Delete brought the session back")
	}
	now = now.Add(time.Second)
	if n, err := s.DeleteExpired(context.Background()); err != nil || n != 1 {
		t.Fatalf("DeleteExpired = %d, %v; want 1 (the tombstone)", n, err)
	}
	if err := s.Commit("tok", []byte("c"), now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if b, ok, _ := s.Find("tok"); !ok || string(b) != "c" {
		t.Fatalf("Find after the tombstone was removed = %q, %v", b, ok)
	}
	if n, err := s.DeleteExpired(context.Background()); err != nil || n != 0 {
		t.Fatalf("DeleteExpired = %d, %v; want 0", n, err)
	}
	if b, ok, _ := s.Find("tok"); !ok || string(b) != "c" {
		t.Fatalf("Find after cleanup = %q, %v", b, ok)
	}
}

// The store never keeps the caller's token string: a token sliced out of a
// large string (a Cookie header) must not keep that string alive.
func TestCommitDoesNotKeepCallersToken(t *testing.T) {
	s := mustNew(t, memstore.Config{CleanupInterval: -1})
	header := "session=" + strings.Repeat("a", 43) + "; " + strings.Repeat("x", 1<<20)
	tok := header[len("session=") : len("session=")+43]
	exp := time.Now().Add(time.Hour)
	if err := s.Commit(tok, []byte("1"), exp); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(tok, []byte("2"), exp.Add(time.Hour)); err != nil { // an overwrite
		t.Fatal(err)
	}
	if memstore.KeepsString(s, header) {
		t.Fatal("the store holds a string inside the caller's header")
	}
}

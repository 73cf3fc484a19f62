package memstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/sessionstore/sessionstore/memstore"
)

// Sessions expiring within the same second share a bucket of the expiry
// index; cleanup at a moment inside that second removes exactly the expired.
func TestDeleteExpiredWithinOneSecond(t *testing.T) {
	base := time.Now().Truncate(time.Second)
	now := base
	s := mustNew(t, memstore.Config{CleanupInterval: -1, CleanupBatchSize: 37, Now: func() time.Time { return now }})
	for i := range 1000 {
		// Committed in shuffled order: the bucket is unsorted.
		j := (i * 389) % 1000
		if err := s.Commit(fmt.Sprint("t", j), []byte("x"), base.Add(time.Duration(j)*time.Microsecond+time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	now = base.Add(time.Hour + 500*time.Microsecond)
	n, err := s.DeleteExpired(context.Background())
	if err != nil || n != 501 {
		t.Fatalf("DeleteExpired = %d, %v; want 501 (expiries up to and including now)", n, err)
	}
	if all := must(s.All()); len(all) != 499 {
		t.Fatalf("%d sessions left, want 499", len(all))
	}
	now = base.Add(2 * time.Hour)
	if n, err := s.DeleteExpired(context.Background()); err != nil || n != 499 {
		t.Fatalf("second DeleteExpired = %d, %v; want 499", n, err)
	}
}

// Recommitting sessions leaves stale index records behind; they are never
// counted as deletions and never delete a live session.
func TestStaleIndexRecords(t *testing.T) {
	base := time.Now()
	now := base
	s := mustNew(t, memstore.Config{CleanupInterval: -1, CleanupBatchSize: 10, Now: func() time.Time { return now }})
	for round := range 50 {
		for i := range 100 {
			exp := base.Add(time.Duration(round+1) * time.Minute)
			if err := s.Commit(fmt.Sprint("t", i), []byte("x"), exp); err != nil {
				t.Fatal(err)
			}
		}
	}
	now = base.Add(30 * time.Minute) // every record but the last round's is stale and expired
	if n, err := s.DeleteExpired(context.Background()); err != nil || n != 0 {
		t.Fatalf("DeleteExpired = %d, %v; want 0: every session is live", n, err)
	}
	if all := must(s.All()); len(all) != 100 {
		t.Fatalf("%d sessions left, want 100", len(all))
	}
	now = base.Add(time.Hour)
	if n, err := s.DeleteExpired(context.Background()); err != nil || n != 100 {
		t.Fatalf("DeleteExpired = %d, %v; want 100", n, err)
	}
}

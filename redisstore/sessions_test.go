package redisstore

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestSessionsCancelled cancels the context of Sessions after the first
// session, on a single server and on a cluster (whose masters are scanned
// at once, by goroutines of their own): the iteration must end with an
// error matching context.Canceled, never as a list that looks complete,
// and leave no goroutine behind (TestMain's goleak check).
func TestSessionsCancelled(t *testing.T) {
	clients(t, func(t *testing.T, c redis.UniversalClient) {
		s := newStore(t, c, Config{PageSize: 100})
		exp := time.Now().Add(time.Hour)
		const n = 3000
		pipe := c.Pipeline()
		for i := range n {
			pipe.Set(context.Background(), s.sessionKey(fmt.Sprintf("tok-%05d", i)), encodeValue([]byte("x"), exp), time.Hour)
		}
		if _, err := pipe.Exec(context.Background()); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		got, failed := 0, false
		for _, err := range s.Sessions(ctx) {
			if err != nil {
				if !errors.Is(err, context.Canceled) {
					t.Errorf("Sessions failed with %v, want context.Canceled", err)
				}
				failed = true
				break
			}
			if got++; got == 1 {
				cancel()
			}
		}
		if !failed {
			t.Fatalf("Sessions ended without an error after its context was cancelled (%d of %d sessions)", got, n)
		}
	})
}

package redisstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionstore/sessionstore"
)

// TestMigrate turns the index on for sessions committed without it, on a
// single server and on a cluster: Migrate indexes every live owned
// session, never a deleted or expired one, moves an entry whose session a
// replica without the index gave to another owner, drops one whose session
// now has no owner, and changes nothing when run again.
func TestMigrate(t *testing.T) {
	clients(t, func(t *testing.T, c redis.UniversalClient) {
		ctx := context.Background()
		plain, indexed := plainAndIndexed(t, c)
		if _, err := plain.Migrate(ctx); !errors.Is(err, sessionstore.ErrNoIndex) {
			t.Fatalf("Migrate without Owner: %v, want ErrNoIndex", err)
		}
		exp := time.Now().Add(time.Hour)
		commit := func(s *RedisStore, tok, user string) {
			t.Helper()
			if err := s.Commit(tok, ownedData(t, user, exp), exp); err != nil {
				t.Fatal(err)
			}
		}
		var alice, bob []string
		for i := range 30 {
			tok := fmt.Sprintf("a-%02d", i)
			commit(plain, tok, "alice")
			alice = append(alice, tok)
		}
		for i := range 5 {
			tok := fmt.Sprintf("b-%02d", i)
			commit(plain, tok, "bob")
			bob = append(bob, tok)
		}
		commit(plain, "anonymous", "")
		commit(plain, "deleted", "alice")
		if err := plain.Delete("deleted"); err != nil {
			t.Fatal(err)
		}
		// Indexed for carol by the indexed store, then given to bob, and
		// "gone-anon" taken from carol, by a replica without the index.
		commit(indexed, "moved", "carol")
		commit(plain, "moved", "bob")
		bob = append(bob, "moved")
		commit(indexed, "gone-anon", "carol")
		commit(plain, "gone-anon", "")

		n, err := indexed.Migrate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if want := int64(len(alice) + len(bob) + 1); n != want {
			t.Errorf("Migrate changed %d entries, want %d", n, want)
		}
		for user, want := range map[string][]string{"alice": alice, "bob": bob, "carol": nil} {
			list, err := indexed.UserSessions(ctx, user)
			if err != nil {
				t.Fatal(err)
			}
			var got []string // SessionIDs
			for _, u := range list {
				got = append(got, u.ID)
			}
			var ids []string
			for _, tok := range want {
				ids = append(ids, sessionstore.SessionID(tok))
			}
			slices.Sort(got)
			slices.Sort(ids)
			want = ids
			if !slices.Equal(got, want) {
				t.Errorf("after Migrate, %s has %v, want %v", user, got, want)
			}
		}
		if n, err := indexed.Migrate(ctx); err != nil || n != 0 {
			t.Errorf("second Migrate = %d, %v; want 0, nil", n, err)
		}
		// The index now works as if it had always been on.
		if _, err := indexed.DeleteUserSessions(ctx, "alice"); err != nil {
			t.Fatal(err)
		}
		for _, tok := range alice {
			if _, found, err := indexed.Find(tok); err != nil || found {
				t.Fatalf("Find(%s) after DeleteUserSessions = %v, %v", tok, found, err)
			}
		}
	})
}

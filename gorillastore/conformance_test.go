package gorillastore

import (
	"context"
	"iter"
	"testing"
	"time"

	"github.com/sessionstore/sessionstore"

	"github.com/sessionstore/sessionstore/storetest"
)

// conformant is the session table of a PGStore as an SCS store: the
// conformance suite checks the contract the gorilla layer relies on.
type conformant struct {
	*pgBackend
	s *PGStore
}

func (c conformant) DeleteExpired(ctx context.Context) (int64, error) { return c.s.DeleteExpired(ctx) }

// AllCtx and Sessions are the core's iteration, on this table: PGStore
// does not export them, but they run the core's statements as the table's
// columns name them.
func (c conformant) AllCtx(ctx context.Context) (map[string][]byte, error) {
	return c.pgBackend.core.All(ctx)
}

func (c conformant) Sessions(ctx context.Context) iter.Seq2[sessionstore.Session, error] {
	return c.pgBackend.core.Sessions(ctx)
}

// writeBehind writes a live row for key straight into the session table, as
// a writer that ignores tombstones would.
func writeBehind(t *testing.T, s storetest.Store, key string, data []byte, expiry time.Time) {
	t.Helper()
	b := s.(conformant).pgBackend
	now := micro(b.now())
	_, err := b.db.Exec(context.Background(), `INSERT INTO `+b.table+` (key, data, created_on, modified_on, expires_on)
VALUES ($1, $2, $3, $3, $4) ON CONFLICT (key) DO UPDATE SET data = EXCLUDED.data, expires_on = EXCLUDED.expires_on`,
		key, data, now, micro(expiry))
	if err != nil {
		t.Fatal(err)
	}
}

// TestConformance runs the suite on the session table, and the Index
// subtests on it with the index on, reading owners of SCS data as the suite
// writes it (storetest.Owner): the table's index is the same whatever the
// data format.
func TestConformance(t *testing.T) {
	pool := testPool(t)
	newStore := func(t *testing.T, now func() time.Time, owner sessionstore.OwnerFunc) storetest.Store {
		s, err := NewPGStoreWithConfig(pool, PGConfig{Config: Config{KeyPairs: [][]byte{key1}, Now: now}, Table: tableName(), Owner: owner})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			s.Close()
			if err := s.b.dropSchema(context.Background()); err != nil {
				t.Error(err)
			}
		})
		return conformant{s.b, s}
	}
	storetest.RunWithOptions(t, func(t *testing.T, now func() time.Time) storetest.Store {
		return newStore(t, now, nil)
	}, storetest.Options{
		WriteBehind: writeBehind,
		Indexed: func(t *testing.T, now func() time.Time) storetest.Store {
			return newStore(t, now, storetest.Owner)
		},
	})
}

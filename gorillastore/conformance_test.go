package gorillastore

import (
	"context"
	"testing"
	"time"

	"github.com/sessionstore/sessionstore/storetest"
)

// conformant is the session table of a PGStore as an SCS store: the
// conformance suite checks the contract the gorilla layer relies on.
type conformant struct {
	*pgBackend
	s *PGStore
}

func (c conformant) DeleteExpired(ctx context.Context) (int64, error) { return c.s.DeleteExpired(ctx) }

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

func TestConformance(t *testing.T) {
	pool := testPool(t)
	storetest.RunWithOptions(t, func(t *testing.T, now func() time.Time) storetest.Store {
		s, err := NewPGStoreWithConfig(pool, PGConfig{Config: Config{KeyPairs: [][]byte{key1}, Now: now}, TableName: tableName()})
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
	}, storetest.Options{WriteBehind: writeBehind})
}

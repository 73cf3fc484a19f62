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

func TestConformance(t *testing.T) {
	pool := testPool(t)
	storetest.RunWithClock(t, func(t *testing.T, now func() time.Time) storetest.Store {
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
	})
}

package hardening

import (
	"context"
	"iter"
	"testing"
	"time"

	"github.com/sessionstore/sessionstore"
	"github.com/sessionstore/sessionstore/memstore"
)

// Store is what these tests need: every method SCS calls, plus iteration.
type Store interface {
	Find(token string) ([]byte, bool, error)
	Commit(token string, b []byte, expiry time.Time) error
	Delete(token string) error
	FindCtx(ctx context.Context, token string) ([]byte, bool, error)
	CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error
	DeleteCtx(ctx context.Context, token string) error
	Sessions(ctx context.Context) iter.Seq2[sessionstore.Session, error]
}

// backend opens a fresh, empty store for a test and releases it after.
type backend struct {
	name string
	open func(t testing.TB) Store
}

// backends lists every store, each on every database it supports.
func backends() []backend {
	return []backend{
		{"memstore", func(t testing.TB) Store {
			s := memstore.NewWithCleanupInterval(0)
			t.Cleanup(s.StopCleanup)
			return s
		}},
	}
}

package pgstore

import (
	"context"
	"iter"

	"github.com/sessionstore/sessionstore"
)

// All returns the token and data of every live session, as a non-nil map.
// Like Find, it leaves out a row whose token has a tombstone.
// With many sessions prefer Sessions, which never holds them all at once.
func (s *PostgresStore) All() (map[string][]byte, error) {
	return s.core.All(context.Background())
}

// AllCtx is All with a context. Unlike Sessions it reads the table in one
// statement, in physical order: the map holds every session anyway, and
// one sequential scan streams them faster than pages read by index.
func (s *PostgresStore) AllCtx(ctx context.Context) (map[string][]byte, error) {
	return s.core.All(ctx)
}

// Sessions streams every live session in token order (leaving out, like
// Find, a row whose token has a tombstone), reading pages of
// DefaultPageSize rows by keyset pagination (token > last seen), so that no
// transaction or connection is held between pages and a million sessions
// never sit in memory at once. Each page is read completely before its
// sessions are yielded, so the loop body may use the store. Sessions
// committed or deleted during the iteration may or may not be seen; none is
// seen twice. An error is yielded once, and ends the iteration.
func (s *PostgresStore) Sessions(ctx context.Context) iter.Seq2[sessionstore.Session, error] {
	return s.core.Sessions(ctx)
}

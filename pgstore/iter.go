package pgstore

import (
	"context"
	"fmt"
	"iter"

	"github.com/jackc/pgx/v5"

	"github.com/sessionstore/sessionstore"
)

// All returns the token and data of every live session, as a non-nil map.
// With many sessions prefer Sessions, which never holds them all at once.
func (s *PostgresStore) All() (map[string][]byte, error) {
	return s.AllCtx(context.Background())
}

// AllCtx is All with a context.
func (s *PostgresStore) AllCtx(ctx context.Context) (map[string][]byte, error) {
	all := make(map[string][]byte)
	for sess, err := range s.Sessions(ctx) {
		if err != nil {
			return nil, err
		}
		all[sess.Token] = sess.Data
	}
	return all, nil
}

// Sessions streams every live session in token order, reading pages of
// DefaultPageSize rows by keyset pagination (token > last seen), so that no
// transaction or connection is held between pages and a million sessions
// never sit in memory at once. Each page is read completely before its
// sessions are yielded, so the loop body may use the store. Sessions
// committed or deleted during the iteration may or may not be seen; none is
// seen twice. An error is yielded once, and ends the iteration.
func (s *PostgresStore) Sessions(ctx context.Context) iter.Seq2[sessionstore.Session, error] {
	return func(yield func(sessionstore.Session, error) bool) {
		after := "" // every valid token sorts after the empty string
		for {
			page, err := s.page(ctx, after)
			if err != nil {
				yield(sessionstore.Session{}, fmt.Errorf("pgstore: sessions: %w", err))
				return
			}
			for _, sess := range page {
				if !yield(sess, nil) {
					return
				}
			}
			if len(page) < s.pageSize {
				return
			}
			after = page[len(page)-1].Token
		}
	}
}

// page reads the live sessions after the token after, in token order.
func (s *PostgresStore) page(ctx context.Context, after string) ([]sessionstore.Session, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	rows, err := s.pool.Query(ctx, s.q.page, after, s.now(), s.pageSize)
	if err != nil {
		return nil, err
	}
	page := make([]sessionstore.Session, 0, min(s.pageSize, 64))
	var sess sessionstore.Session
	_, err = pgx.ForEachRow(rows, []any{&sess.Token, &sess.Data, &sess.Expiry}, func() error {
		if sess.Data == nil {
			sess.Data = []byte{}
		}
		sess.Expiry = sess.Expiry.UTC()
		page = append(page, sess)
		sess.Data = nil // the next row scans into a fresh slice
		return nil
	})
	return page, err
}

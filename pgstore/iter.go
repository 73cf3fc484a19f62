package pgstore

import (
	"context"
	"fmt"
	"iter"

	"github.com/jackc/pgx/v5"

	"github.com/sessionstore/sessionstore"
)

// All returns the token and data of every live session, as a non-nil map.
// Like Find, it leaves out a row whose token has a tombstone.
// With many sessions prefer Sessions, which never holds them all at once.
func (s *PostgresStore) All() (map[string][]byte, error) {
	return s.AllCtx(context.Background())
}

// AllCtx is All with a context. Unlike Sessions it reads the table in one
// statement, in physical order: the map holds every session anyway, and
// one sequential scan streams them faster than pages read by index.
func (s *PostgresStore) AllCtx(ctx context.Context) (map[string][]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("pgstore: all: %w", err)
	}
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	tomb, err := s.useTombstones(ctx)
	if err != nil {
		return nil, fmt.Errorf("pgstore: all: %w", err)
	}
	q := s.q.allPlain
	if tomb {
		q = s.q.all
	}
	rows, err := s.pool.Query(ctx, q, s.now())
	if err != nil {
		return nil, fmt.Errorf("pgstore: all: %w", err)
	}
	all := make(map[string][]byte)
	var tok string
	var data []byte
	_, err = pgx.ForEachRow(rows, []any{&tok, &data}, func() error {
		if data == nil {
			data = []byte{}
		}
		all[tok] = data
		data = nil // the next row scans into a fresh slice
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pgstore: all: %w", err)
	}
	return all, nil
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
	return func(yield func(sessionstore.Session, error) bool) {
		page := make([]sessionstore.Session, 0, s.pageSize)
		for after := ""; ; { // every valid token sorts after ""
			page = page[:0]
			n, last, err := s.scanPage(ctx, after, s.pageSize, func(sess *sessionstore.Session) {
				page = append(page, *sess)
			})
			if err != nil {
				yield(sessionstore.Session{}, fmt.Errorf("pgstore: sessions: %w", err))
				return
			}
			for _, sess := range page {
				if !yield(sess, nil) {
					return
				}
			}
			if n < s.pageSize {
				return
			}
			after = last
		}
	}
}

// scanPage reads up to limit live sessions after the token after, in token
// order, calling row for each as it arrives; row must not use the store,
// whose connection is busy. It returns the number of rows and the last
// token read.
func (s *PostgresStore) scanPage(ctx context.Context, after string, limit int, row func(*sessionstore.Session)) (n int, last string, err error) {
	if err := ctx.Err(); err != nil {
		return 0, "", err
	}
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	tomb, err := s.useTombstones(ctx)
	if err != nil {
		return 0, "", err
	}
	q := s.q.pagePlain
	if tomb {
		q = s.q.page
	}
	rows, err := s.pool.Query(ctx, q, after, s.now(), limit)
	if err != nil {
		return 0, "", err
	}
	var sess sessionstore.Session
	_, err = pgx.ForEachRow(rows, []any{&sess.Token, &sess.Data, &sess.Expiry}, func() error {
		if sess.Data == nil {
			sess.Data = []byte{}
		}
		sess.Expiry = sess.Expiry.UTC()
		row(&sess)
		n++
		sess.Data = nil // the next row scans into a fresh slice
		return nil
	})
	return n, sess.Token, err
}

package pgcore

import (
	"context"
	"fmt"
	"iter"

	"github.com/sessionstore/sessionstore"
)

// All returns the token and data of every live session, as a non-nil map,
// in one statement (physical order: the map holds every session anyway,
// and one sequential scan streams them faster than pages read by index).
// Like Find, it leaves out a row whose token has a tombstone.
func (s *Store) All(ctx context.Context) (map[string][]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s: all: %w", s.name, err)
	}
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	tomb, err := s.useTombstones(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: all: %w", s.name, err)
	}
	q := s.Q.AllPlain
	if tomb {
		q = s.Q.All
	}
	rows, err := s.db.Query(ctx, q, micro(s.now()))
	if err != nil {
		return nil, fmt.Errorf("%s: all: %w", s.name, err)
	}
	all := make(map[string][]byte)
	var tok string
	var data []byte
	err = forEachRow(rows, []any{&tok, &data}, func() {
		if data == nil {
			data = []byte{}
		}
		all[tok] = data
		data = nil // the next row scans into a fresh slice
	})
	if err != nil {
		return nil, fmt.Errorf("%s: all: %w", s.name, err)
	}
	return all, nil
}

// Sessions streams every live session in token order (leaving out, like
// Find, a row whose token has a tombstone), reading pages by keyset
// pagination (token > last seen), so that no transaction or connection is
// held between pages. Each page is read completely before its sessions are
// yielded, so the loop body may use the store. An error is yielded once,
// and ends the iteration.
func (s *Store) Sessions(ctx context.Context) iter.Seq2[sessionstore.Session, error] {
	return func(yield func(sessionstore.Session, error) bool) {
		page := make([]sessionstore.Session, 0, s.pageSize)
		for after := ""; ; { // every valid token sorts after ""
			page = page[:0]
			n, last, err := s.scanPage(ctx, after, s.pageSize, func(sess *sessionstore.Session) {
				page = append(page, *sess)
			})
			if err != nil {
				yield(sessionstore.Session{}, fmt.Errorf("%s: sessions: %w", s.name, err))
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
func (s *Store) scanPage(ctx context.Context, after string, limit int, row func(*sessionstore.Session)) (n int, last string, err error) {
	if err := ctx.Err(); err != nil {
		return 0, "", err
	}
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	tomb, err := s.useTombstones(ctx)
	if err != nil {
		return 0, "", err
	}
	q := s.Q.PagePlain
	if tomb {
		q = s.Q.Page
	}
	rows, err := s.db.Query(ctx, q, after, micro(s.now()), limit)
	if err != nil {
		return 0, "", err
	}
	var sess sessionstore.Session
	err = forEachRow(rows, []any{&sess.Token, &sess.Data, &sess.Expiry}, func() {
		if sess.Data == nil {
			sess.Data = []byte{}
		}
		sess.Expiry = sess.Expiry.UTC()
		row(&sess)
		n++
		sess.Data = nil // the next row scans into a fresh slice
	})
	return n, sess.Token, err
}

// schemaComplete reports whether both tables and their expiry indexes
// exist; a failed probe answers false, and Migrate's own statements then
// give the error.
func (s *Store) schemaComplete(ctx context.Context) bool {
	var ok bool
	return s.db.QueryRow(ctx, s.Q.Complete).Scan(&ok) == nil && ok
}

// Migrate creates the sessions table, its expiry index, the tombstone table
// and its index if they do not exist, idempotently and safely from several
// replicas at once (an advisory lock serialises them); with the index on,
// it also adds the index columns, builds the owner index concurrently and
// backfills the owners of the live sessions. The index part is bounded by
// ctx only. When everything exists it runs no DDL, so that a role without
// CREATE or ALTER may run it (Queries.Complete).
func (s *Store) Migrate(ctx context.Context) error {
	bctx, cancel := context.WithTimeout(ctx, s.bound)
	defer cancel()
	if !s.schemaComplete(bctx) {
		if _, err := s.db.Exec(bctx, s.Q.Migrate); err != nil {
			return fmt.Errorf("%s: migrate %s: %w", s.name, s.Names.Display, err)
		}
	}
	if s.owner != nil {
		if err := s.migrateIndex(ctx); err != nil {
			return fmt.Errorf("%s: migrate %s: %w", s.name, s.Names.Display, err)
		}
	}
	ctx, cancel = context.WithTimeout(ctx, s.bound)
	defer cancel()
	_, why, err := s.checkTombstones(ctx, true)
	if err != nil {
		return fmt.Errorf("%s: migrate %s: %w", s.name, s.Names.Display, err)
	}
	if why != nil { // the tables exist, but another role owns them
		return fmt.Errorf("%s: migrate %s: %w: %w", s.name, s.Names.Display, sessionstore.ErrNoTombstones, why)
	}
	return nil
}

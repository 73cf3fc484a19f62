package sqlstore

import (
	"context"
	"fmt"
	"iter"
	"time"

	"github.com/sessionstore/sessionstore"
)

// Sessions yields every live session, reading pages of pageSize sessions
// in token order (keyset pagination). No connection is held while the
// caller's loop body runs, so the body may use the store.
func (s *Store) Sessions(ctx context.Context) iter.Seq2[sessionstore.Session, error] {
	return func(yield func(sessionstore.Session, error) bool) {
		after := ""
		for {
			page, err := s.page(ctx, after)
			if err != nil {
				yield(sessionstore.Session{}, s.errorf("sessions", err))
				return
			}
			for _, sess := range page {
				if !yield(sess, nil) {
					return
				}
			}
			if len(page) < pageSize {
				return
			}
			after = page[len(page)-1].Token
		}
	}
}

func (s *Store) page(ctx context.Context, after string) ([]sessionstore.Session, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	q := s.st.PagePlain
	if s.tomb.Load() {
		q = s.st.Page
	}
	rows, err := s.conn.Query(ctx, q, s.st.Time(s.cfg.Now()), after, pageSize)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	page := make([]sessionstore.Session, 0, pageSize)
	for rows.Next() {
		var sess sessionstore.Session
		var exp timeScanner
		if err := rows.Scan(&sess.Token, &sess.Data, &exp); err != nil {
			return nil, err
		}
		if sess.Data == nil {
			sess.Data = []byte{}
		}
		sess.Expiry = exp.t
		page = append(page, sess)
	}
	return page, rows.Err()
}

// timeScanner reads an expiry whichever way the driver returns it: as a
// time.Time, or as text (SQLite, or MySQL without parseTime=true).
type timeScanner struct{ t time.Time }

var textTimes = []string{
	"2006-01-02 15:04:05.999999999-07:00",
	"2006-01-02T15:04:05.999999999-07:00",
	"2006-01-02 15:04:05.999999999 -0700 MST",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999",
}

// Scan implements sql.Scanner.
func (ts *timeScanner) Scan(v any) error {
	switch v := v.(type) {
	case time.Time:
		ts.t = v
		return nil
	case []byte:
		return ts.parse(string(v))
	case string:
		return ts.parse(v)
	}
	return fmt.Errorf("cannot read expiry from %T", v)
}

func (ts *timeScanner) parse(s string) error {
	for _, layout := range textTimes {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			ts.t = t
			return nil
		}
	}
	return fmt.Errorf("cannot read expiry from %q", s)
}

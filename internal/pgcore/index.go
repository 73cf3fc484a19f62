package pgcore

import (
	"context"
	"fmt"
	"time"

	"github.com/sessionstore/sessionstore"
)

// indexArgs are the index columns a Commit writes, when the index is on.
type indexArgs struct {
	on     bool
	owner  any // string, or nil for no owner
	now    time.Time
	ua, ip any // string, or nil to keep the stored ones
}

// indexArgs reads the owner of data with Options.Owner and the client from
// ctx, before any round trip: a bad owner fails the Commit, which then
// writes nothing.
func (s *Store) indexArgs(ctx context.Context, data []byte) (indexArgs, error) {
	owner, err := s.owner.Read(data)
	if err != nil {
		return indexArgs{}, err
	}
	ix := indexArgs{on: true, now: micro(s.now())}
	if owner != "" {
		ix.owner = owner
	}
	if c, ok := sessionstore.ClientFromContext(ctx); ok {
		ix.ua, ix.ip = c.UserAgent, c.IP
	}
	return ix, nil
}

// checkIndex fails with an error matching sessionstore.ErrNoIndex when the
// table lacks the index columns, and warns when it lacks a valid owner
// index (the index works without it, by reading the whole table).
func (s *Store) checkIndex(ctx context.Context) error {
	cols, valid, err := s.probeIndex(ctx, s.db)
	switch {
	case err != nil:
		return fmt.Errorf("%s: checking the index columns of %s: %w", s.name, s.Names.Display, err)
	case cols < len(s.Names.indexColumns()):
		return fmt.Errorf("%s: %s has %d of the %d columns of the per-user index: %w; run %s",
			s.name, s.Names.Display, cols, len(s.Names.indexColumns()), sessionstore.ErrNoIndex, s.hint)
	case valid == nil || !*valid:
		s.log.Warn(s.name+": the owner index is missing or invalid: listing a user's sessions reads the whole table; run "+s.hint,
			"table", s.Names.Display, "index", s.Names.OwnerIdxQualified)
	}
	return nil
}

// probeIndex returns how many of the index columns the table has, and
// whether the owner index is valid (nil if it does not exist).
func (s *Store) probeIndex(ctx context.Context, c Conn) (cols int, valid *bool, err error) {
	err = c.QueryRow(ctx, s.Ix.Probe, s.Names.Sessions, s.Names.indexColumns(), s.Names.OwnerIdxQualified).Scan(&cols, &valid)
	return cols, valid, err
}

// errNoIndex is the error of a UserIndex method of a store whose index is
// off.
func (s *Store) errNoIndex(op string) error {
	return fmt.Errorf("%s: %s: %w (Config.Owner is nil)", s.name, op, sessionstore.ErrNoIndex)
}

// UserSessions returns the live sessions of user, most recently seen
// first (see sessionstore.UserIndex).
func (s *Store) UserSessions(ctx context.Context, user string) ([]sessionstore.UserSession, error) {
	if s.owner == nil {
		return nil, s.errNoIndex("user sessions")
	}
	list := []sessionstore.UserSession{}
	if user == "" {
		return list, nil
	}
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	tomb, err := s.useTombstones(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: user sessions: %w", s.name, err)
	}
	q := s.Ix.ListPlain
	if tomb {
		q = s.Ix.List
	}
	rows, err := s.db.Query(ctx, q, user, micro(s.now()))
	if err != nil {
		return nil, fmt.Errorf("%s: user sessions: %w", s.name, err)
	}
	var (
		tok                   string
		created, seen, expiry *time.Time
		ua, ip                *string
	)
	err = forEachRow(rows, []any{&tok, &created, &seen, &expiry, &ua, &ip}, func() {
		us := sessionstore.UserSession{ID: sessionstore.SessionID(tok), UserAgent: str(ua), IP: str(ip)}
		if created != nil {
			us.Created = created.UTC()
		}
		if seen != nil {
			us.LastSeen = seen.UTC()
		}
		if expiry != nil {
			us.Expiry = expiry.UTC()
		}
		list = append(list, us)
	})
	if err != nil {
		return nil, fmt.Errorf("%s: user sessions: %w", s.name, err)
	}
	return list, nil
}

// CountUserSessions returns the number of sessions UserSessions lists.
func (s *Store) CountUserSessions(ctx context.Context, user string) (int, error) {
	if s.owner == nil {
		return 0, s.errNoIndex("count user sessions")
	}
	if user == "" {
		return 0, nil
	}
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	tomb, err := s.useTombstones(ctx)
	if err != nil {
		return 0, fmt.Errorf("%s: count user sessions: %w", s.name, err)
	}
	q := s.Ix.CountPlain
	if tomb {
		q = s.Ix.Count
	}
	var n int
	if err := s.db.QueryRow(ctx, q, user, micro(s.now())).Scan(&n); err != nil {
		return 0, fmt.Errorf("%s: count user sessions: %w", s.name, err)
	}
	return n, nil
}

// DeleteUserSession deletes the live session of user whose
// sessionstore.SessionID is id, as Delete does, and reports whether there
// was one; a session of another user is never deleted, whatever id is.
func (s *Store) DeleteUserSession(ctx context.Context, user, id string) (bool, error) {
	if s.owner == nil {
		return false, s.errNoIndex("delete user session")
	}
	if user == "" || id == "" {
		return false, nil
	}
	var deleted bool
	ctx, cancel, tomb, err := s.detach(ctx)
	defer cancel()
	if err != nil {
		return false, fmt.Errorf("%s: delete user session: %w", s.name, err)
	}
	err = s.db.OnConn(ctx, func(c Conn) error {
		q := s.Ix.TokensPlain
		if tomb {
			q = s.Ix.Tokens
		}
		rows, err := c.Query(ctx, q, user, micro(s.now()))
		if err != nil {
			return err
		}
		var tok, match string
		if err := forEachRow(rows, []any{&tok}, func() {
			if sessionstore.SessionID(tok) == id {
				match = tok
			}
		}); err != nil || match == "" {
			return err
		}
		var n int64
		if tomb {
			n, err = c.Exec(ctx, s.Ix.DelOwned, match, micro(s.policy.Until(s.now())), user)
		} else {
			n, err = c.Exec(ctx, s.Ix.DelOwnedPlain, match, user)
		}
		deleted = n > 0
		return err
	})
	if err != nil {
		return false, fmt.Errorf("%s: delete user session: %w", s.name, err)
	}
	return deleted, nil
}

// DeleteUserSessions deletes every session of user but those of the tokens
// in keep, giving each a tombstone, in one statement, and returns how many
// live sessions it deleted. op names the operation in errors.
func (s *Store) DeleteUserSessions(ctx context.Context, op, user string, keep []string) (int, error) {
	if s.owner == nil {
		return 0, s.errNoIndex(op)
	}
	if user == "" {
		return 0, nil
	}
	if keep == nil {
		keep = []string{} // an array, not NULL: token <> ALL (NULL) is never true
	}
	var n int
	ctx, cancel, tomb, err := s.detach(ctx)
	defer cancel()
	if err != nil {
		return 0, fmt.Errorf("%s: %s: %w", s.name, op, err)
	}
	err = s.db.OnConn(ctx, func(c Conn) error {
		now := micro(s.now())
		if !tomb {
			return c.QueryRow(ctx, s.Ix.RevokePlain, user, keep, now).Scan(&n)
		}
		return c.QueryRow(ctx, s.Ix.Revoke, user, keep, micro(s.policy.Until(now)), now).Scan(&n)
	})
	if err != nil {
		return 0, fmt.Errorf("%s: %s: %w", s.name, op, err)
	}
	return n, nil
}

// forEachRow scans every row of rows into dst, calling fn after each, and
// closes rows.
func forEachRow(rows Rows, dst []any, fn func()) error {
	defer rows.Close()
	for rows.Next() {
		if err := rows.Scan(dst...); err != nil {
			return err
		}
		fn()
	}
	return rows.Err()
}

// str is *p, or "" for NULL.
func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

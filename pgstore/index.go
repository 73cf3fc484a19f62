package pgstore

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionstore/sessionstore"
)

var _ sessionstore.UserIndex = (*PostgresStore)(nil)

// indexArgs are the index columns a Commit writes, when the index is on.
type indexArgs struct {
	on     bool
	owner  any // string, or nil for no owner
	now    time.Time
	ua, ip any // string, or nil to keep the stored ones
}

// indexArgs reads the owner of data with Config.Owner and the client from
// ctx, before any round trip: a bad owner fails the Commit, which then
// writes nothing.
func (s *PostgresStore) indexArgs(ctx context.Context, data []byte) (indexArgs, error) {
	owner, err := s.owner.Read(data)
	if err != nil {
		return indexArgs{}, err
	}
	ix := indexArgs{on: true, now: s.now()}
	if owner != "" {
		ix.owner = owner
	}
	if c, ok := sessionstore.ClientFromContext(ctx); ok {
		ix.ua, ix.ip = c.UserAgent, c.IP
	}
	return ix, nil
}

// execCommit runs a commit statement, with the index columns when the
// index is on.
func (s *PostgresStore) execCommit(ctx context.Context, q, token string, b []byte, expiry time.Time, ix *indexArgs) (pgconn.CommandTag, error) {
	args := []any{token, b, expiry}
	if ix.on {
		args = append(args, ix.owner, ix.now, ix.ua, ix.ip)
	}
	if s.async {
		return s.execAsync(ctx, q, args)
	}
	return s.pool.Exec(ctx, q, args...)
}

// checkIndex fails with an error matching sessionstore.ErrNoIndex when the
// table lacks the index columns, and warns when it lacks a valid owner
// index (the index works without it, by reading the whole table).
func (s *PostgresStore) checkIndex() error {
	ctx, cancel := context.WithTimeout(context.Background(), s.bounded())
	defer cancel()
	cols, valid, err := s.probeIndex(ctx)
	switch {
	case err != nil:
		return fmt.Errorf("pgstore: checking the index columns of %s: %w", s.names.display, err)
	case cols < len(indexColumns):
		return fmt.Errorf("pgstore: %s has %d of the %d columns of the per-user index: %w; run Migrate (a store made with Config.CreateTable does) or the SQL of docs/index.md",
			s.names.display, cols, len(indexColumns), sessionstore.ErrNoIndex)
	case valid == nil || !*valid:
		s.log.Warn("pgstore: the owner index is missing or invalid: listing a user's sessions reads the whole table; run Migrate",
			"table", s.names.display, "index", s.names.ownerIdxQualified)
	}
	return nil
}

// probeIndex returns how many of the index columns the table has, and
// whether the owner index is valid (nil if it does not exist).
func (s *PostgresStore) probeIndex(ctx context.Context) (cols int, valid *bool, err error) {
	err = s.pool.QueryRow(ctx, s.ix.probe, s.names.sessions, indexColumns, s.names.ownerIdxQualified).Scan(&cols, &valid)
	return cols, valid, err
}

// errNoIndex is the error of a UserIndex method of a store whose index is
// off.
func errNoIndex(op string) error {
	return fmt.Errorf("pgstore: %s: %w (Config.Owner is nil)", op, sessionstore.ErrNoIndex)
}

// UserSessions returns the live sessions of user, most recently seen
// first: those whose owner, as Config.Owner read it at their last Commit,
// is user, that have not expired by Config.Now and have no tombstone. It
// reads the user's rows only, through the owner index. "" has no sessions.
func (s *PostgresStore) UserSessions(ctx context.Context, user string) ([]sessionstore.UserSession, error) {
	if s.owner == nil {
		return nil, errNoIndex("user sessions")
	}
	list := []sessionstore.UserSession{}
	if user == "" {
		return list, nil
	}
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	tomb, err := s.useTombstones(ctx)
	if err != nil {
		return nil, fmt.Errorf("pgstore: user sessions: %w", err)
	}
	q := s.ix.listPlain
	if tomb {
		q = s.ix.list
	}
	rows, err := s.pool.Query(ctx, q, user, s.now())
	if err != nil {
		return nil, fmt.Errorf("pgstore: user sessions: %w", err)
	}
	var (
		tok                   string
		created, seen, expiry *time.Time
		ua, ip                *string
	)
	_, err = pgx.ForEachRow(rows, []any{&tok, &created, &seen, &expiry, &ua, &ip}, func() error {
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
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pgstore: user sessions: %w", err)
	}
	return list, nil
}

// CountUserSessions returns the number of sessions UserSessions lists.
func (s *PostgresStore) CountUserSessions(ctx context.Context, user string) (int, error) {
	if s.owner == nil {
		return 0, errNoIndex("count user sessions")
	}
	if user == "" {
		return 0, nil
	}
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	tomb, err := s.useTombstones(ctx)
	if err != nil {
		return 0, fmt.Errorf("pgstore: count user sessions: %w", err)
	}
	q := s.ix.countPlain
	if tomb {
		q = s.ix.count
	}
	var n int
	if err := s.pool.QueryRow(ctx, q, user, s.now()).Scan(&n); err != nil {
		return 0, fmt.Errorf("pgstore: count user sessions: %w", err)
	}
	return n, nil
}

// DeleteUserSession deletes the live session of user whose
// sessionstore.SessionID is id, as Delete does (with its tombstone), and
// reports whether there was one. It reads the user's tokens to find it,
// then deletes it only if it is still the user's: a session of another
// user is never deleted, whatever id is. Like Delete, it completes when
// ctx is cancelled, within the store's timeout.
func (s *PostgresStore) DeleteUserSession(ctx context.Context, user, id string) (bool, error) {
	if s.owner == nil {
		return false, errNoIndex("delete user session")
	}
	if user == "" || id == "" {
		return false, nil
	}
	var deleted bool
	err := s.logout(ctx, func(ctx context.Context, conn *pgxpool.Conn, tomb bool) error {
		q := s.ix.tokensPlain
		if tomb {
			q = s.ix.tokens
		}
		rows, err := conn.Query(ctx, q, user, s.now())
		if err != nil {
			return err
		}
		var tok, match string
		if _, err := pgx.ForEachRow(rows, []any{&tok}, func() error {
			if sessionstore.SessionID(tok) == id {
				match = tok
			}
			return nil
		}); err != nil || match == "" {
			return err
		}
		var tag pgconn.CommandTag
		if tomb {
			tag, err = conn.Exec(ctx, s.ix.delOwned, match, s.policy.Until(s.now()), user)
		} else {
			tag, err = conn.Exec(ctx, s.ix.delOwnedPlain, match, user)
		}
		deleted = tag.RowsAffected() > 0
		return err
	})
	if err != nil {
		return false, fmt.Errorf("pgstore: delete user session: %w", err)
	}
	return deleted, nil
}

// DeleteUserSessions deletes every session of user, giving each a
// tombstone as Delete does, and returns how many live sessions it deleted
// (the user's expired rows go too, uncounted). It is one statement, so it
// deletes all of them or, failing, none. A session committed for the user
// while it runs, on a new token, may survive it; a Commit of a token it
// deletes cannot bring that session back. Like Delete, it completes when
// ctx is cancelled, within the store's timeout.
func (s *PostgresStore) DeleteUserSessions(ctx context.Context, user string) (int, error) {
	return s.revoke(ctx, "delete user sessions", user, nil)
}

// DeleteUserSessionsExcept is DeleteUserSessions sparing the sessions of
// the tokens in keep (the current one, for "sign out everywhere else").
func (s *PostgresStore) DeleteUserSessionsExcept(ctx context.Context, user string, keep ...string) (int, error) {
	return s.revoke(ctx, "delete user sessions", user, keep)
}

func (s *PostgresStore) revoke(ctx context.Context, op, user string, keep []string) (int, error) {
	if s.owner == nil {
		return 0, errNoIndex(op)
	}
	if user == "" {
		return 0, nil
	}
	if keep == nil {
		keep = []string{} // an array, not NULL: token <> ALL (NULL) is never true
	}
	var n int
	err := s.logout(ctx, func(ctx context.Context, conn *pgxpool.Conn, tomb bool) error {
		now := s.now()
		if !tomb {
			return conn.QueryRow(ctx, s.ix.revokePlain, user, keep, now).Scan(&n)
		}
		return conn.QueryRow(ctx, s.ix.revoke, user, keep, s.policy.Until(now), now).Scan(&n)
	})
	if err != nil {
		return 0, fmt.Errorf("pgstore: %s: %w", op, err)
	}
	return n, nil
}

// str is *p, or "" for NULL.
func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

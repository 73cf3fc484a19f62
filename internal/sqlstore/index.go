package sqlstore

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sessionstore/sessionstore"
)

// The per-user index: with Config.Owner set, every Commit writes the owner
// its OwnerFunc reads from the data, with created, last_seen, user agent and
// IP, into nullable columns of the session's own row, in the Commit's one
// statement. The index cannot disagree with its session after a crash, and
// whatever removes the row (Delete, cleanup, a revoke) removes its entry.

// errNoIndex is what the UserIndex methods of a store with Owner nil return.
func (s *Store) errNoIndex(op string) error { return s.errorf(op, sessionstore.ErrNoIndex) }

// commitIndexed is Commit with the index on, and returns the rows the
// statement affected (0 when the token is tombstoned). The owner is read
// and checked before any round trip; an owner that cannot be read fails the
// Commit and nothing is written.
func (s *Store) commitIndexed(ctx context.Context, token string, data []byte, expiry time.Time) (int64, error) {
	owner, err := s.cfg.Owner.Read(data)
	if err != nil {
		return 0, s.errorf("commit", err)
	}
	if err := ctx.Err(); err != nil {
		return 0, s.errorf("commit", err)
	}
	s.recheck(ctx)
	var ownerArg, ua, ip any // NULL: not indexed; NULL: keep the stored client
	if owner != "" {
		ownerArg = owner
	}
	if c, ok := sessionstore.ClientFromContext(ctx); ok {
		ua, ip = c.UserAgent, c.IP
	}
	exp, now := s.st.Time(expiry), s.st.Time(s.cfg.Now())
	var n int64
	err = s.retry(ctx, func() error {
		var err error
		if s.tomb.Load() {
			n, err = s.conn.Exec(ctx, s.st.Index.Commit, token, data, exp, ownerArg, now, now, ua, ip, token)
		} else {
			n, err = s.conn.Exec(ctx, s.st.Index.CommitPlain, token, data, exp, ownerArg, now, now, ua, ip)
		}
		return err
	})
	if err != nil {
		return 0, s.errorf("commit", err)
	}
	return n, nil
}

// indexable reports whether user can have indexed sessions: "" (no owner)
// and owners CheckOwner refuses are never written, so they own nothing.
func indexable(user string) bool { return user != "" && sessionstore.CheckOwner(user) == nil }

// UserSessions returns the live sessions of user, most recently seen first.
func (s *Store) UserSessions(ctx context.Context, user string) ([]sessionstore.UserSession, error) {
	list, err := s.userSessions(ctx, user)
	if err != nil {
		return nil, s.errorf("user sessions", err)
	}
	out := make([]sessionstore.UserSession, len(list))
	for i, us := range list {
		out[i] = us.UserSession
	}
	return out, nil
}

// userSession is a listed session with its token.
type userSession struct {
	sessionstore.UserSession
	token string
}

func (s *Store) userSessions(ctx context.Context, user string) ([]userSession, error) {
	if s.cfg.Owner == nil {
		return nil, sessionstore.ErrNoIndex
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !indexable(user) {
		return []userSession{}, nil
	}
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	s.recheck(ctx)
	q := s.st.Index.ListPlain
	if s.tomb.Load() {
		q = s.st.Index.List
	}
	rows, err := s.conn.Query(ctx, q, user, s.st.Time(s.cfg.Now()))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	list := []userSession{}
	for rows.Next() {
		var us userSession
		var created, seen, exp nullTime
		var ua, ip nullString
		if err := rows.Scan(&us.token, &created, &seen, &exp, &ua, &ip); err != nil {
			return nil, err
		}
		us.ID = sessionstore.SessionID(us.token)
		us.Created, us.LastSeen, us.Expiry = created.t, seen.t, exp.t
		us.UserAgent, us.IP = ua.s, ip.s
		list = append(list, us)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// Most recently seen first (a row without a last-seen time last), then
	// by token: the order PostgreSQL's ORDER BY gives, sorted here because
	// MySQL's filesort cost more than the listing's query.
	slices.SortFunc(list, func(a, b userSession) int {
		if c := b.LastSeen.Compare(a.LastSeen); c != 0 {
			return c
		}
		return strings.Compare(a.token, b.token)
	})
	return list, nil
}

// CountUserSessions returns the number of live sessions of user.
func (s *Store) CountUserSessions(ctx context.Context, user string) (int, error) {
	if s.cfg.Owner == nil {
		return 0, s.errNoIndex("count user sessions")
	}
	if err := ctx.Err(); err != nil {
		return 0, s.errorf("count user sessions", err)
	}
	if !indexable(user) {
		return 0, nil
	}
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	s.recheck(ctx)
	q := s.st.Index.CountPlain
	if s.tomb.Load() {
		q = s.st.Index.Count
	}
	rows, err := s.conn.Query(ctx, q, user, s.st.Time(s.cfg.Now()))
	if err != nil {
		return 0, s.errorf("count user sessions", err)
	}
	defer rows.Close()
	var n int
	if rows.Next() {
		err = rows.Scan(&n)
	}
	if err == nil {
		err = rows.Err()
	}
	if err != nil {
		return 0, s.errorf("count user sessions", err)
	}
	return n, nil
}

// DeleteUserSession deletes the live session of user whose ID is id, as
// Delete does, and reports whether there was one. Only user's own tokens
// are compared with id.
func (s *Store) DeleteUserSession(ctx context.Context, user, id string) (bool, error) {
	list, err := s.userSessions(ctx, user)
	if err != nil {
		return false, s.errorf("delete user session", err)
	}
	for _, us := range list {
		if us.ID == id {
			if err := s.Delete(ctx, us.token); err != nil {
				return false, s.errorf("delete user session", err)
			}
			return true, nil
		}
	}
	return false, nil
}

// DeleteUserSessions deletes every session of user, with its tombstone,
// and returns the number of live sessions it deleted.
func (s *Store) DeleteUserSessions(ctx context.Context, user string) (int, error) {
	return s.revoke(ctx, "delete user sessions", user, nil)
}

// DeleteUserSessionsExcept deletes every session of user but those of the
// tokens in keep, with their tombstones, and returns the number of live
// sessions it deleted.
func (s *Store) DeleteUserSessionsExcept(ctx context.Context, user string, keep ...string) (int, error) {
	return s.revoke(ctx, "delete user sessions except", user, keep)
}

// revoke deletes user's rows but those of keep in one transaction, on a
// context the caller's cancellation does not reach, like Delete. A Commit racing with it is handled as a Commit racing
// with Delete: it either waits for the revoke and then finds the tombstone,
// or writes its row back behind the tombstone, where no read (and no list)
// sees it.
func (s *Store) revoke(ctx context.Context, op, user string, keep []string) (int, error) {
	if s.cfg.Owner == nil {
		return 0, s.errNoIndex(op)
	}
	if !indexable(user) {
		return 0, nil
	}
	var kept []any
	for _, k := range keep {
		if sessionstore.ValidToken(k) && !slices.Contains(kept, any(k)) {
			kept = append(kept, k)
		}
	}
	ctx, cancel := s.detached(ctx)
	defer cancel()
	s.recheck(ctx)
	now := s.cfg.Now()
	until := s.st.Time(s.cfg.Policy.Until(now))
	var n int
	err := s.retry(ctx, func() error {
		var err error
		n, err = s.revokeTx(ctx, user, kept, until, now)
		return err
	})
	if err != nil {
		return 0, s.errorf(op, err)
	}
	return n, nil
}

// revokeTx is revoke in one transaction: lock the user's rows (MySQL:
// SELECT ... FOR UPDATE; SQLite's one writer needs no lock), record their tombstones, delete them. On MySQL the
// tombstone keys are claimed first (see IndexStatements.Claim). Each list
// of tokens is padded to one of a few lengths so that its statement is
// prepared once.
func (s *Store) revokeTx(ctx context.Context, user string, kept []any, until any, now time.Time) (int, error) {
	tomb := s.tomb.Load()
	claim := tomb && s.st.Index.Claim != nil
	epoch := s.st.Time(Epoch)
	var n int
	err := s.conn.InTx(ctx, func(tx Conn) error {
		n = 0
		var claimed []any
		if claim {
			toks, err := s.owned(ctx, tx, user, kept)
			if err != nil || len(toks) == 0 {
				return err
			}
			slices.SortFunc(toks, func(a, b any) int { return strings.Compare(a.(string), b.(string)) })
			for chunk := range slices.Chunk(toks, MaxList) {
				chunk = pad(chunk)
				args := make([]any, 0, 2*len(chunk))
				for _, tok := range chunk {
					args = append(args, tok, epoch)
				}
				if _, err := tx.Exec(ctx, s.st.Index.Claim(len(chunk)), args...); err != nil {
					return err
				}
			}
			claimed = toks
		}
		q, args := s.st.Index.LockPlain, []any{user}
		if tomb {
			q, args = s.st.Index.Lock, []any{epoch, user}
		}
		rows, err := tx.Query(ctx, q, args...)
		if err != nil {
			return err
		}
		var doomed []any
		cutoff := now.UTC().Truncate(time.Microsecond)
		for rows.Next() {
			var tok string
			var exp timeScanner
			var tombstoned bool
			dest := []any{&tok, &exp}
			if tomb {
				dest = append(dest, &tombstoned)
			}
			if err := rows.Scan(dest...); err != nil {
				rows.Close()
				return err
			}
			// A session created for the user since Owned read the
			// tokens has no claim: it survives this revoke.
			if slices.Contains(kept, any(tok)) || (claim && !slices.Contains(claimed, any(tok))) {
				continue
			}
			doomed = append(doomed, tok)
			if exp.t.After(cutoff) && !tombstoned {
				n++
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for chunk := range slices.Chunk(doomed, MaxList) {
			chunk = pad(chunk)
			if tomb {
				args := append([]any{until, user}, chunk...)
				if _, err := tx.Exec(ctx, s.st.Index.Tombstones(len(chunk)), args...); err != nil {
					return err
				}
			}
			if _, err := tx.Exec(ctx, s.st.Index.Delete(len(chunk)), append([]any{user}, chunk...)...); err != nil {
				return err
			}
		}
		if claim && len(doomed) < len(claimed) {
			// Rows deleted (or given another owner) since Owned read them:
			// remove the placeholders their claims left.
			for chunk := range slices.Chunk(claimed, MaxList) {
				chunk = pad(chunk)
				if _, err := tx.Exec(ctx, s.st.Index.Unclaim(len(chunk)), append([]any{epoch}, chunk...)...); err != nil {
					return err
				}
			}
		}
		return nil
	})
	return n, err
}

// owned returns the tokens of user's rows but those of kept, read without
// locks.
func (s *Store) owned(ctx context.Context, tx Conn, user string, kept []any) ([]any, error) {
	rows, err := tx.Query(ctx, s.st.Index.Owned, user)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var toks []any
	for rows.Next() {
		var tok string
		if err := rows.Scan(&tok); err != nil {
			return nil, err
		}
		if !slices.Contains(kept, any(tok)) {
			toks = append(toks, tok)
		}
	}
	return toks, rows.Err()
}

// HasIndex reports whether the sessions table has every index column. It
// returns an error if the table cannot be read.
func HasIndex(ctx context.Context, conn Conn, st *Statements) (bool, error) {
	have, err := indexColumns(ctx, conn, st)
	return len(have) == len(IndexColumns), err
}

func indexColumns(ctx context.Context, conn Conn, st *Statements) (map[string]bool, error) {
	cols, err := queryStrings(ctx, conn, st.Index.Columns)
	if err != nil {
		return nil, err
	}
	have := map[string]bool{}
	for _, c := range cols {
		have[c] = true
	}
	return have, nil
}

// queryStrings runs q, a query without arguments that yields one string
// column, and returns its values in order.
func queryStrings(ctx context.Context, conn Conn, q string) ([]string, error) {
	rows, err := conn.Query(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// MigrateIndex adds the index columns that the sessions table lacks
// (nullable, no default: no dialect rewrites the table) and the owner
// index, then backfills: it indexes every live row that no indexed Commit
// has written, in batches of pageSize rows in token order. Each row's owner
// is read from its data with Config.Owner and written only if the row still
// holds that data, so that a Commit racing the backfill wins. Rows whose
// owner cannot be read stay unindexed and are counted in one WARN. Sessions
// keep working throughout; it is idempotent, and resumes a backfill that
// was interrupted.
func (s *Store) MigrateIndex(ctx context.Context) error {
	if s.cfg.Owner == nil {
		return nil
	}
	have, err := indexColumns(ctx, s.conn, s.st)
	if err != nil {
		return err
	}
	var missing []string
	for _, c := range IndexColumns {
		if !have[c] {
			missing = append(missing, c)
		}
	}
	for _, q := range s.st.Index.AddColumns(missing) {
		if err := s.ddl(ctx, q); err != nil {
			// Another replica migrating at the same time may have added
			// them first.
			if ok, _ := HasIndex(ctx, s.conn, s.st); !ok {
				return err
			}
			break
		}
	}
	if err := s.ownerIndex(ctx); err != nil {
		return err
	}
	return s.backfill(ctx)
}

// ddlLockWait is how long, in seconds, a schema change of the index waits
// for the table's metadata lock on MySQL (lock_wait_timeout), which a
// transaction that has used the table holds until it ends.
const ddlLockWait = 2

// ddl runs q, an ALTER TABLE or CREATE INDEX of the sessions table. On
// MySQL every statement on a table queues behind a schema change waiting
// for its metadata lock, and the server's default wait is a year: behind
// one long transaction, a migration at start-up would stall every request
// on the table. So there q waits at most ddlLockWait seconds, on a
// connection held for it, and then fails with the server's "Lock wait
// timeout exceeded" (error 1205); the connection's own setting is restored
// afterwards, or the connection closed. PostgreSQL runs pgcore, which
// bounds its wait with lock_timeout; SQLite has one writer at a time.
func (s *Store) ddl(ctx context.Context, q string) error {
	h, ok := s.conn.(Holder)
	if s.st.Dialect != MySQL || !ok {
		_, err := s.conn.Exec(ctx, q)
		return err
	}
	return h.OnConn(ctx, func(c Conn) error {
		if _, err := c.Exec(ctx, "SET SESSION lock_wait_timeout = "+strconv.Itoa(ddlLockWait)); err != nil {
			return err
		}
		_, err := c.Exec(ctx, q)
		if _, rerr := c.Exec(context.WithoutCancel(ctx), "SET SESSION lock_wait_timeout = DEFAULT"); rerr != nil {
			if d, ok := c.(interface{ Discard(context.Context) }); ok {
				d.Discard(ctx)
			}
		}
		return err
	})
}

// ownerIndex creates the owner index unless it exists (a role that does not
// own the table may use an index an administrator created), and replaces
// one of another shape where the dialect can (replaceOwnerIndex).
func (s *Store) ownerIndex(ctx context.Context) error {
	exists := func() (bool, error) {
		rows, err := s.conn.Query(ctx, s.st.Index.HasOwnerIndex)
		if err != nil {
			return false, err
		}
		defer rows.Close()
		return rows.Next(), rows.Err()
	}
	ok, err := exists()
	if err != nil {
		return err
	}
	if ok {
		return s.replaceOwnerIndex(ctx)
	}
	if err := s.ddl(ctx, s.st.Index.CreateOwnerIndex); err != nil {
		if ok, _ := exists(); !ok {
			return err
		}
	}
	return nil
}

// replaceOwnerIndex replaces an owner index whose key is not
// OwnerIndexKey (on MySQL, the (owner, expiry) of earlier versions) with
// the one CreateOwnerIndex creates. If the server refuses (a role that may
// not alter the table, a table it cannot alter in place), the store keeps
// the index it has, which answers every listing, more slowly, and says so
// in one WARN: the old shape alone never fails the store.
func (s *Store) replaceOwnerIndex(ctx context.Context) error {
	if s.st.Index.ReplaceOwnerIndex == "" {
		return nil
	}
	key := func() ([]string, error) { return queryStrings(ctx, s.conn, s.st.Index.OwnerIndexColumns) }
	right := func(cols []string) bool {
		return slices.EqualFunc(cols, s.st.Index.OwnerIndexKey, strings.EqualFold) // column names ignore case
	}
	cols, err := key()
	if err != nil || right(cols) {
		return err
	}
	err = s.ddl(ctx, s.st.Index.ReplaceOwnerIndex)
	if err == nil {
		s.cfg.Logger.Info(s.cfg.Name+": per-user index: owner index replaced", "table", s.st.Table,
			"index", s.st.Table+"_owner_idx", "was", strings.Join(cols, ", "), "now", strings.Join(s.st.Index.OwnerIndexKey, ", "))
		return nil
	}
	if now, kerr := key(); kerr == nil && right(now) {
		return nil // another replica replaced it first
	}
	s.cfg.Logger.Warn(s.cfg.Name+": per-user index: the owner index has other columns than the store's and could not be replaced;"+
		" listings read more pages until it is: run the SQL as a role that may alter the table (see docs/index.md)",
		"table", s.st.Table, "index", s.st.Table+"_owner_idx", "columns", strings.Join(cols, ", "),
		"sql", s.st.Index.ReplaceOwnerIndex, "err", err)
	return nil
}

func (s *Store) backfill(ctx context.Context) error {
	now := s.st.Time(s.cfg.Now())
	type row struct {
		token string
		data  []byte
	}
	after, unread, indexed := "", 0, 0
	// readPage reads the next page, within the store's own timeout.
	readPage := func() ([]row, error) {
		ctx, cancel := context.WithTimeout(ctx, s.bounded())
		defer cancel()
		rows, err := s.conn.Query(ctx, s.st.Index.BackfillPage, now, after, pageSize)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var page []row
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.token, &r.data); err != nil {
				return nil, err
			}
			page = append(page, r)
		}
		return page, rows.Err()
	}
	for {
		page, err := readPage()
		if err != nil {
			return fmt.Errorf("backfill: %w", err)
		}
		if len(page) == 0 {
			break
		}
		if s.cfg.BeforeBackfill != nil {
			s.cfg.BeforeBackfill()
		}
		bctx, cancel := context.WithTimeout(ctx, s.bounded()) // each batch, as cleanup's
		err = s.conn.InTx(bctx, func(tx Conn) error {
			for _, r := range page {
				owner, err := s.cfg.Owner.Read(r.data)
				if err != nil {
					unread++
					continue
				}
				var ownerArg any
				if owner != "" {
					ownerArg = owner
				}
				if r.data == nil {
					r.data = []byte{}
				}
				n, err := tx.Exec(bctx, s.st.Index.Backfill, ownerArg, now, now, r.token, r.data)
				if err != nil {
					return err
				}
				indexed += int(n)
			}
			return nil
		})
		cancel()
		if err != nil {
			return fmt.Errorf("backfill: %w", err)
		}
		after = page[len(page)-1].token
		if len(page) < pageSize {
			break
		}
	}
	if unread > 0 {
		s.cfg.Logger.Warn(s.cfg.Name+": per-user index: sessions whose owner could not be read were left unindexed;"+
			" they are indexed by their next Commit if it succeeds", "table", s.st.Table, "sessions", unread)
	}
	if indexed > 0 {
		s.cfg.Logger.Info(s.cfg.Name+": per-user index: existing sessions indexed", "table", s.st.Table, "sessions", indexed)
	}
	return nil
}

// OpenIndex is what NewWithConfig does with Config.Owner set: if the
// sessions table exists, MigrateIndex. An error matches
// sessionstore.ErrNoIndex and says what to run. A missing sessions table is
// left to Migrate, which creates it and then migrates it.
func (s *Store) OpenIndex(ctx context.Context) error {
	if s.cfg.Owner == nil {
		return nil
	}
	rows, err := s.conn.Query(ctx, s.st.ProbeSessions)
	if err != nil {
		return nil // no sessions table yet
	}
	rows.Close()
	if err := s.MigrateIndex(ctx); err != nil {
		return fmt.Errorf("%s: table %s: %w: %w; run Migrate as a role that may alter the table,"+
			" or apply the SQL of docs/index.md", s.cfg.Name, s.st.Table, sessionstore.ErrNoIndex, err)
	}
	return nil
}

// IndexError is the error of a Migrate whose index migration failed.
func (s *Store) IndexError(err error) error {
	return fmt.Errorf("%s: migrate: per-user index of %s: %w", s.cfg.Name, s.st.Table, err)
}

// nullTime is a timeScanner that reads NULL as the zero time.
type nullTime struct{ timeScanner }

func (n *nullTime) Scan(v any) error {
	if v == nil {
		n.t = time.Time{}
		return nil
	}
	return n.timeScanner.Scan(v)
}

// nullString reads NULL as "".
type nullString struct{ s string }

func (n *nullString) Scan(v any) error {
	switch v := v.(type) {
	case nil:
		n.s = ""
	case string:
		n.s = v
	case []byte:
		n.s = string(v)
	default:
		return fmt.Errorf("cannot read text from %T", v)
	}
	return nil
}

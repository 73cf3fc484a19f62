package gorillastore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/sessionstore/sessionstore"
	"github.com/sessionstore/sessionstore/internal/pgcore"
	"github.com/sessionstore/sessionstore/internal/touch"
)

// pgColumns are the columns of antonlindstrom/pgstore's http_sessions
// table, which PGStore keeps: key holds the SHA-256 digest of the session
// ID (see token), created_on and modified_on are stamped by every write,
// and the per-user index reads modified_on as the last-seen time.
var pgColumns = pgcore.Columns{
	Token:    "key",
	Expiry:   "expires_on",
	Serial:   "id",
	Created:  "created_on",
	Modified: "modified_on",
	LastSeen: "modified_on",
}

// pgBackend is the session table of a PGStore, as the SCS context methods
// and sessionstore.UserIndex. It is a thin layer on the PostgreSQL core of
// this repository (internal/pgcore), which keeps the store contract on
// PostgreSQL for every store: keys are SHA-256 digests of session IDs,
// expired rows are never returned, a deleted key is tombstoned (see the
// tombstone rule in the package documentation) so that a late Commit
// cannot recreate it, and UpdateCtx, which PGStore uses to save a session
// it loaded, never creates a row at all. Only the load of a session
// (loadValues) runs here, on the core's statement, so that it allocates
// nothing of its own.
type pgBackend struct {
	core    *pgcore.Store
	db      DBConn // the core's handle, for loadValues
	table   string // quoted, for messages
	tombs   string // quoted
	timeout time.Duration
	now     func() time.Time
	// countExpiredSQL counts the expired rows (CountExpiredSessions).
	countExpiredSQL string

	// touch is the engine's local view (Config.TouchWindow), nil for 0:
	// loadValues then reads each session's expiry too and records it.
	touch *touch.View
}

// micro returns t in UTC at the microsecond precision PostgreSQL stores.
func micro(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// loadArgs are the query arguments and the scan target of one loadValues,
// pooled so that a load allocates nothing of its own: the arguments are boxed
// once, when a loadArgs is made, and point into it.
type loadArgs struct {
	key  [tokenLen]byte
	now  pgtype.Timestamptz
	data pgtype.PreallocBytes // scanned into buf, which grows up to maxPooledData
	buf  []byte
	args [2]any // key[:], &now
	dst  [1]any // &data
	// With Config.TouchWindow: the expiry, scanned after data.
	expiry pgtype.Timestamptz
	dstExp [2]any // &data, &expiry
}

// maxPooledData is the largest session data buffer a loadArgs keeps.
const maxPooledData = 64 << 10

var loadArgsPool = sync.Pool{New: func() any {
	a := &loadArgs{buf: make([]byte, 0, 512)}
	a.args = [2]any{a.key[:], &a.now}
	a.dst = [1]any{&a.data}
	a.dstExp = [2]any{&a.data, &a.expiry}
	return a
}}

// loadValues decodes the values of the live session with ID id into values,
// or returns errNotFound. It is FindCtx and decodeValues without their
// allocations: it runs the core's Find statement (FindExpiry with
// Config.TouchWindow) on pooled arguments, scans the row into a pooled
// buffer and decodes it from there (decodeValues copies what it keeps).
func (b *pgBackend) loadValues(ctx context.Context, id string, values map[any]any) error {
	ctx, cancel := b.withTimeout(ctx)
	defer cancel()
	tomb, err := b.core.UseTombstones(ctx)
	if err != nil {
		return fmt.Errorf("find in %s: %w", b.table, err)
	}
	a := loadArgsPool.Get().(*loadArgs)
	defer loadArgsPool.Put(a)
	putToken(&a.key, id)
	a.now = pgtype.Timestamptz{Time: micro(b.now()), Valid: true}
	a.data = a.buf[:cap(a.buf)]
	q := &b.core.Q
	switch {
	case b.touch == nil && tomb:
		err = b.db.QueryRow(ctx, q.Find, a.args[:]...).Scan(a.dst[:]...)
	case b.touch == nil:
		err = b.db.QueryRow(ctx, q.FindPlain, a.args[:]...).Scan(a.dst[:]...)
	case tomb:
		err = b.db.QueryRow(ctx, q.FindExpiry, a.args[:]...).Scan(a.dstExp[:]...)
	default:
		err = b.db.QueryRow(ctx, q.FindExpiryPlain, a.args[:]...).Scan(a.dstExp[:]...)
	}
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		b.touch.Forget(string(a.key[:]))
		return errNotFound
	case err != nil:
		b.touch.Forget(string(a.key[:]))
		return fmt.Errorf("find in %s: %w", b.table, err)
	}
	if cap(a.data) > cap(a.buf) && cap(a.data) <= maxPooledData {
		a.buf = a.data[:0]
	}
	if b.touch != nil {
		b.touch.Saw(string(a.key[:]), a.data, a.expiry.Time)
	}
	return decodeValues(values, a.data)
}

// withTimeout bounds ctx by PGConfig.Timeout, if it is positive; otherwise
// the load runs on the caller's context alone.
func (b *pgBackend) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if b.timeout <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, b.timeout)
}

// FindCtx returns the data of a live session.
func (b *pgBackend) FindCtx(ctx context.Context, key string) ([]byte, bool, error) {
	return b.core.Find(ctx, key)
}

// CommitCtx inserts or replaces a session, unless its key was deleted. An
// expiry outside [sessionstore.MinExpiry, sessionstore.MaxExpiry] is an
// error matching sessionstore.ErrExpiryOutOfRange, and nothing is written.
func (b *pgBackend) CommitCtx(ctx context.Context, key string, data []byte, expiry time.Time) error {
	return b.core.Commit(ctx, key, data, expiry)
}

// UpdateCtx replaces the data and expiry of the live session key and
// reports whether there was one; it never inserts a row (see CtxUpdater).
// An expiry out of range is an error, as for CommitCtx.
func (b *pgBackend) UpdateCtx(ctx context.Context, key string, data []byte, expiry time.Time) (bool, error) {
	return b.core.Update(ctx, key, data, expiry)
}

// DeleteCtx deletes a session and tombstones its key until the later of its
// expiry and now plus the tombstone lifetime. It runs to completion even if
// ctx is cancelled, within the store's bounded timeout (PGConfig.Timeout,
// or DefaultTimeout).
func (b *pgBackend) DeleteCtx(ctx context.Context, key string) error {
	return b.core.Delete(ctx, key)
}

// Find is FindCtx with context.Background.
func (b *pgBackend) Find(key string) ([]byte, bool, error) {
	return b.FindCtx(context.Background(), key)
}

// Commit is CommitCtx with context.Background.
func (b *pgBackend) Commit(key string, data []byte, expiry time.Time) error {
	return b.CommitCtx(context.Background(), key, data, expiry)
}

// Delete is DeleteCtx with context.Background.
func (b *pgBackend) Delete(key string) error {
	return b.DeleteCtx(context.Background(), key)
}

var _ sessionstore.UserIndex = (*pgBackend)(nil)

// UserSessions lists the live sessions of user by their index entries,
// most recently saved first. UserSession.ID is sessionstore.SessionID of
// the row's key.
func (b *pgBackend) UserSessions(ctx context.Context, user string) ([]sessionstore.UserSession, error) {
	return b.core.UserSessions(ctx, user)
}

// CountUserSessions counts the live sessions of user.
func (b *pgBackend) CountUserSessions(ctx context.Context, user string) (int, error) {
	return b.core.CountUserSessions(ctx, user)
}

// DeleteUserSession deletes the live session of user whose
// sessionstore.SessionID is id, as DeleteCtx does, if it still belongs to
// user.
func (b *pgBackend) DeleteUserSession(ctx context.Context, user, id string) (bool, error) {
	return b.core.DeleteUserSession(ctx, user, id)
}

// DeleteUserSessions deletes every session of user, with their tombstones,
// in one statement.
func (b *pgBackend) DeleteUserSessions(ctx context.Context, user string) (int, error) {
	return b.core.DeleteUserSessions(ctx, "delete user sessions", user, nil)
}

// DeleteUserSessionsExcept deletes every session of user but those of the
// keys in keep, with their tombstones, in one statement, and returns the
// number of live sessions it deleted. It runs to completion if ctx is
// cancelled, within the store's bounded timeout.
func (b *pgBackend) DeleteUserSessionsExcept(ctx context.Context, user string, keep ...string) (int, error) {
	return b.core.DeleteUserSessions(ctx, "delete user sessions", user, keep)
}

package pgstore

import (
	"context"

	"github.com/sessionstore/sessionstore"
)

var _ sessionstore.UserIndex = (*PostgresStore)(nil)

// UserSessions returns the live sessions of user, most recently seen
// first: those whose owner, as Config.Owner read it at their last Commit,
// is user, that have not expired by Config.Now and have no tombstone. It
// reads the user's rows only, through the owner index. "" has no sessions.
func (s *PostgresStore) UserSessions(ctx context.Context, user string) ([]sessionstore.UserSession, error) {
	return s.core.UserSessions(ctx, user)
}

// CountUserSessions returns the number of sessions UserSessions lists.
func (s *PostgresStore) CountUserSessions(ctx context.Context, user string) (int, error) {
	return s.core.CountUserSessions(ctx, user)
}

// DeleteUserSession deletes the live session of user whose
// sessionstore.SessionID is id, as Delete does (with its tombstone), and
// reports whether there was one. It reads the user's tokens to find it,
// then deletes it only if it is still the user's: a session of another
// user is never deleted, whatever id is. Like Delete, it completes when
// ctx is cancelled, within the store's timeout.
func (s *PostgresStore) DeleteUserSession(ctx context.Context, user, id string) (bool, error) {
	return s.core.DeleteUserSession(ctx, user, id)
}

// DeleteUserSessions deletes every session of user, giving each a
// tombstone as Delete does, and returns how many live sessions it deleted
// (the user's expired rows go too, uncounted). It is one statement, so it
// deletes all of them or, failing, none. A session committed for the user
// while it runs, on a new token, may survive it; a Commit of a token it
// deletes cannot bring that session back. Like Delete, it completes when
// ctx is cancelled, within the store's timeout.
func (s *PostgresStore) DeleteUserSessions(ctx context.Context, user string) (int, error) {
	return s.core.DeleteUserSessions(ctx, "delete user sessions", user, nil)
}

// DeleteUserSessionsExcept is DeleteUserSessions sparing the sessions of
// the tokens in keep (the current one, for "sign out everywhere else").
func (s *PostgresStore) DeleteUserSessionsExcept(ctx context.Context, user string, keep ...string) (int, error) {
	return s.core.DeleteUserSessions(ctx, "delete user sessions", user, keep)
}

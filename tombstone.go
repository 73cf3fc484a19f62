package sessionstore

import (
	"errors"
	"fmt"
	"time"
)

// DefaultTombstoneLifetime is how long, at least, a deleted session's
// tombstone keeps blocking Commits of its token after the Delete, where a
// store's Config.TombstoneLifetime is zero.
//
// A tombstone must outlive every request that loaded the session before the
// logout: such a request commits when it ends, with a new expiry (SCS's
// IdleTimeout, gorilla's sliding MaxAge), so the deleted session's own expiry
// is not enough. An hour is far beyond the time a well-configured server lets
// a request run (see the read and write timeouts of http.Server), and costs
// one small row, map entry or key per logout for that hour.
const DefaultTombstoneLifetime = time.Hour

// DefaultClockSkew is the difference between the clocks of replicas that
// cleanup tolerates, where a store's Config.ClockSkew is zero: a tombstone is
// removed only once it has been expired for this long by the cleaning
// replica's clock, so that a replica whose clock runs up to this far ahead
// never removes a tombstone another replica still needs.
const DefaultClockSkew = 15 * time.Minute

// MinExpiry and MaxExpiry bound the expiry times every store accepts: the
// range that every backend (PostgreSQL timestamptz, MySQL DATETIME(6),
// SQLite text, Redis milliseconds) stores exactly, at microsecond precision.
// A Commit with an expiry outside it fails with ErrExpiryOutOfRange and
// writes nothing.
var (
	MinExpiry = time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC)
	MaxExpiry = time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC)
)

// ErrExpiryOutOfRange is matched (with errors.Is) by the error Commit returns
// for an expiry before MinExpiry or after MaxExpiry. Nothing is written.
var ErrExpiryOutOfRange = errors.New("session expiry out of range")

// CheckExpiry returns an error matching ErrExpiryOutOfRange if expiry lies
// outside [MinExpiry, MaxExpiry].
func CheckExpiry(expiry time.Time) error {
	if expiry.Before(MinExpiry) || expiry.After(MaxExpiry) {
		return fmt.Errorf("%w: %s is outside %s to %s", ErrExpiryOutOfRange,
			expiry.UTC().Format(time.RFC3339Nano), MinExpiry.Format(time.DateOnly), MaxExpiry.Format(time.DateOnly))
	}
	return nil
}

// ErrNoTombstones is matched (with errors.Is) by the error NewWithConfig
// returns when the store cannot keep tombstones (its tombstone table is
// missing and cannot be created, say for a role without CREATE) and the
// configuration did not allow it to run without them. Without tombstones a
// request in flight at logout can bring the session back.
var ErrNoTombstones = errors.New("tombstones unavailable: a logout could be undone by a request in flight")

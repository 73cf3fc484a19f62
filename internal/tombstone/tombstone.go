// Package tombstone is the tombstone rule every store of this repository
// applies: how long a deleted session's tombstone blocks Commits, and when
// cleanup may remove it.
package tombstone

import (
	"fmt"
	"time"

	"github.com/sessionstore/sessionstore"
)

// Policy is the tombstone rule of one store, from its Config.
type Policy struct {
	// Lifetime is how long after a Delete its tombstone blocks Commits, at
	// least (sessionstore.DefaultTombstoneLifetime by default).
	Lifetime time.Duration
	// ClockSkew is how long past its expiry, by the cleaner's clock, a
	// tombstone is kept (sessionstore.DefaultClockSkew by default).
	ClockSkew time.Duration
}

// New returns the policy of the Config fields TombstoneLifetime and
// ClockSkew, whose zero values mean the defaults. A negative value is an
// error: it would undo logouts, and a typo should not do that silently.
func New(lifetime, skew time.Duration) (Policy, error) {
	if lifetime < 0 {
		return Policy{}, fmt.Errorf("TombstoneLifetime %v is negative", lifetime)
	}
	if skew < 0 {
		return Policy{}, fmt.Errorf("ClockSkew %v is negative", skew)
	}
	if lifetime == 0 {
		lifetime = sessionstore.DefaultTombstoneLifetime
	}
	if skew == 0 {
		skew = sessionstore.DefaultClockSkew
	}
	return Policy{Lifetime: lifetime, ClockSkew: skew}, nil
}

// Expiry is the expiry of the tombstone a Delete at deletedAt writes for a
// session that expires at expiry: the later of the two, and never past
// sessionstore.MaxExpiry.
func (p Policy) Expiry(expiry, deletedAt time.Time) time.Time {
	until := deletedAt.Add(p.Lifetime)
	if expiry.After(until) {
		until = expiry
	}
	if until.After(sessionstore.MaxExpiry) {
		until = sessionstore.MaxExpiry
	}
	return until
}

// Until is the expiry of a tombstone that a Delete at deletedAt writes when
// it does not know the session's expiry, or as the lower bound that SQL
// combines with the deleted row's expiry (GREATEST(expiry, Until)).
func (p Policy) Until(deletedAt time.Time) time.Time {
	return p.Expiry(time.Time{}, deletedAt)
}

// Cutoff is the time cleanup compares tombstone expiries with, when its
// clock reads now: tombstones that expire at or before Cutoff(now) may go.
func (p Policy) Cutoff(now time.Time) time.Time { return now.Add(-p.ClockSkew) }

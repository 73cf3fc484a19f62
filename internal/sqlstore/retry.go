package sqlstore

import (
	"context"
	"errors"
	"time"
)

// retry runs fn again, up to five times, when the database reports a
// deadlock or a serialization failure (see Transient and
// Config.Transient): InnoDB can pick a Commit or a Delete of the same token
// as a deadlock victim, and running it again then succeeds.
func (s *Store) retry(ctx context.Context, fn func() error) error {
	return retry(ctx, s.Transient, fn)
}

// retry runs fn, and again, up to five times, while it fails with an error
// transient reports and ctx is not done.
func retry(ctx context.Context, transient func(error) bool, fn func() error) error {
	var err error
	for attempt := range 6 {
		if err = fn(); err == nil || !transient(err) || ctx.Err() != nil {
			return err
		}
		time.Sleep(time.Duration(attempt+1) * 2 * time.Millisecond)
	}
	return err
}

// Transient reports whether retry runs a statement again after err: by
// Transient (the function), or by Config.Transient.
func (s *Store) Transient(err error) bool {
	return Transient(err) || (s.cfg.Transient != nil && s.cfg.Transient(err))
}

// Transient reports whether err carries SQLSTATE 40001
// (serialization_failure) or 40P01 (deadlock_detected), by the code of a
// driver error in its chain that has an SQLState method (pgx's
// *pgconn.PgError, lib/pq's *pq.Error), never by its message: the
// transaction was rolled back and running it again may succeed.
func Transient(err error) bool {
	var coded interface{ SQLState() string }
	if !errors.As(err, &coded) {
		return false
	}
	switch coded.SQLState() {
	case "40001", "40P01":
		return true
	}
	return false
}

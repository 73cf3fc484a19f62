package sqltest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/sessionstore/sessionstore/internal/sqlstore"
)

// timeoutBounds checks Config.Timeout, and its deprecated name
// DeleteTimeout: with it set, Find, Commit, All and a cleanup run blocked
// behind another connection's lock on the sessions table fail with
// context.DeadlineExceeded although the caller's context has no deadline
// of its own; and Delete, detached from the caller, still completes when
// the caller's context is cancelled. The caller's context here has a
// deadline of a minute only so that a store that ignores Timeout fails
// instead of hanging; the test checks that it has not passed.
func timeoutBounds(t *testing.T, d Dialect, db DB) {
	for _, old := range []bool{false, true} {
		name := "Timeout"
		if old {
			name = "DeleteTimeout"
		}
		t.Run(name, func(t *testing.T) {
			table := freshTable("timeout")
			s := db.NewStore(t, Options{Table: table, Timeout: 200 * time.Millisecond, OldNames: old, CleanupInterval: -1})
			cs := s.(interface {
				FindCtx(ctx context.Context, token string) ([]byte, bool, error)
				CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error
				DeleteCtx(ctx context.Context, token string) error
				AllCtx(ctx context.Context) (map[string][]byte, error)
			})
			exp := time.Now().Add(time.Hour)
			for _, tok := range []string{"timeout-find", "timeout-delete"} {
				if err := s.Commit(tok, []byte("v"), exp); err != nil {
					t.Fatal(err)
				}
			}
			cancelled, cancel := context.WithCancel(context.Background())
			cancel()
			if err := cs.DeleteCtx(cancelled, "timeout-delete"); err != nil {
				t.Errorf("DeleteCtx with a cancelled context: %v, want nil (Timeout bounds it, the caller does not)", err)
			}

			release := lockTable(t, d, db.SQL(), table)
			defer release()
			ctx, stop := context.WithTimeout(context.Background(), time.Minute)
			defer stop()
			check := func(op string, err error) {
				t.Helper()
				if ctx.Err() != nil {
					t.Fatalf("%s behind a lock: ran until the caller's deadline (%v): Timeout did not bound it", op, err)
				}
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("%s behind a lock: err = %v, want context.DeadlineExceeded", op, err)
				}
			}
			_, _, err := cs.FindCtx(ctx, "timeout-find")
			check("FindCtx", err)
			check("CommitCtx", cs.CommitCtx(ctx, "timeout-find", []byte("v2"), exp))
			_, err = cs.AllCtx(ctx)
			check("AllCtx", err)
			_, err = s.DeleteExpired(ctx)
			check("DeleteExpired", err)
			release()

			// The cut-off Commit may still run once the lock is gone (MySQL
			// does not notice that its client went away): "v" or "v2".
			if _, ok, err := s.Find("timeout-find"); err != nil || !ok {
				t.Errorf("Find after the lock = %v, %v; want true, nil", ok, err)
			}
		})
	}
}

// lockTable makes every statement on table wait, from a connection of
// pool, until release (which may be called more than once): PostgreSQL's
// ACCESS EXCLUSIVE lock, MySQL's LOCK TABLES ... WRITE. SQLite's readers
// do not wait for its locks in WAL mode; there the test's pool has one
// connection, and holding it makes every statement wait for it.
func lockTable(t *testing.T, d Dialect, pool *sql.DB, table string) (release func()) {
	t.Helper()
	ctx := context.Background()
	conn, err := pool.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var tx *sql.Tx
	unlock := func() error { return nil }
	switch d.Dialect {
	case sqlstore.Postgres:
		if tx, err = conn.BeginTx(ctx, nil); err == nil {
			_, err = tx.ExecContext(ctx, fmt.Sprintf(`LOCK TABLE "%s" IN ACCESS EXCLUSIVE MODE`, table))
			unlock = tx.Rollback
		}
	case sqlstore.MySQL:
		_, err = conn.ExecContext(ctx, fmt.Sprintf("LOCK TABLES `%s` WRITE", table))
		unlock = func() error {
			_, err := conn.ExecContext(ctx, "UNLOCK TABLES")
			return err
		}
	}
	if err != nil {
		conn.Close()
		t.Fatalf("lock %s: %v", table, err)
	}
	done := false
	return func() {
		if done {
			return
		}
		done = true
		if err := unlock(); err != nil {
			t.Errorf("unlock %s: %v", table, err)
		}
		conn.Close()
	}
}

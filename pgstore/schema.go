package pgstore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// queries holds every statement the store runs, built once from the table
// names. pgx prepares each one once per connection.
type queries struct {
	find string
	// commit is one MERGE (PostgreSQL 15 and later): it updates the row
	// this statement's snapshot sees, or inserts one if that snapshot holds
	// neither the row nor its tombstone (see CommitCtx). commitLegacy does
	// the same on older servers at the price of a row lock and two more
	// index probes. commitPlain is the bare upsert, used when the tombstone
	// table is unavailable.
	commit, commitLegacy, commitPlain string
	// del removes the row and records its tombstone in one statement;
	// delUpsert also replaces a tombstone that is already there, the rare
	// case of a session recreated after its Delete by a writer that ignores
	// tombstones. delPlain is the bare DELETE.
	del, delUpsert, delPlain string
	page, all                string
	// Cleanup: the per-table advisory lock and one batch per table.
	tryLock, cleanSessions, cleanTombstones string
	// Schema: the migration, and what Commit and Delete need to know once.
	migrate, probe, createTombstones string
}

func buildQueries(n tableNames) queries {
	r := strings.NewReplacer("{t}", n.sessions, "{tt}", n.tombstones, "{ti}", n.sessionsIdx, "{tti}", n.tombstonesIdx)
	createTombstones := r.Replace(`CREATE TABLE IF NOT EXISTS {tt} (token TEXT PRIMARY KEY, expiry TIMESTAMPTZ NOT NULL);
CREATE INDEX IF NOT EXISTS {tti} ON {tt} (expiry);`)
	// The advisory lock keys are derived from the table's OID, so that
	// stores on different tables never contend and replicas on the same
	// table always do, however they spell its name.
	const migrateLock = `SELECT pg_advisory_xact_lock(hashtextextended('pgstore migrate', 0));`
	return queries{
		find: r.Replace(`SELECT data FROM {t} WHERE token = $1 AND expiry > $2`),
		// MERGE joins the token with the row the statement's snapshot sees.
		// A row that a concurrent Delete (or cleanup) removes after that
		// snapshot is no longer MATCHED once the UPDATE has waited for the
		// deleting transaction; PostgreSQL then tries the NOT MATCHED
		// branch, whose condition is evaluated on the same snapshot, still
		// sees the row and so inserts nothing.
		commit: r.Replace(`MERGE INTO {t} AS s USING (SELECT $1::text AS token) AS c ON s.token = c.token
WHEN MATCHED THEN UPDATE SET data = $2, expiry = $3
WHEN NOT MATCHED AND NOT EXISTS (SELECT 1 FROM {t} WHERE token = $1)
AND NOT EXISTS (SELECT 1 FROM {tt} WHERE token = $1)
THEN INSERT (token, data, expiry) VALUES ($1, $2, $3)`),
		commitLegacy: r.Replace(`INSERT INTO {t} (token, data, expiry) SELECT $1, $2, $3
WHERE NOT EXISTS (SELECT 1 FROM {tt} WHERE token = $1)
AND EXISTS (SELECT 1 FROM {t} WHERE token = $1) = EXISTS (SELECT 1 FROM {t} WHERE token = $1 FOR NO KEY UPDATE)
ON CONFLICT (token) DO UPDATE SET data = EXCLUDED.data, expiry = EXCLUDED.expiry`),
		commitPlain: r.Replace(`INSERT INTO {t} (token, data, expiry) VALUES ($1, $2, $3)
ON CONFLICT (token) DO UPDATE SET data = EXCLUDED.data, expiry = EXCLUDED.expiry`),
		// A plain INSERT: a speculative insertion (ON CONFLICT) costs an
		// index probe and a WAL record more, for a conflict that needs a
		// session recreated behind the store's back.
		del: r.Replace(`WITH d AS (DELETE FROM {t} WHERE token = $1 RETURNING expiry)
INSERT INTO {tt} (token, expiry) SELECT $1, expiry FROM d`),
		delUpsert: r.Replace(`WITH d AS (DELETE FROM {t} WHERE token = $1 RETURNING expiry)
INSERT INTO {tt} AS tb (token, expiry) SELECT $1, expiry FROM d
ON CONFLICT (token) DO UPDATE SET expiry = GREATEST(tb.expiry, EXCLUDED.expiry)`),
		delPlain: r.Replace(`DELETE FROM {t} WHERE token = $1`),
		all:      r.Replace(`SELECT token, data FROM {t} WHERE expiry > $1`),
		page:     r.Replace(`SELECT token, data, expiry FROM {t} WHERE token > $1 AND expiry > $2 ORDER BY token LIMIT $3`),
		// A cleanup batch need not be durable (after a crash it is simply
		// done again), so it does not wait for its WAL to reach disk and
		// does not queue behind the requests' own commits.
		tryLock: `SELECT pg_try_advisory_xact_lock(hashtextextended('pgstore cleanup ' || ` +
			quoteLiteral(n.sessions) + `::regclass::oid::text, 0)), set_config('synchronous_commit', 'off', true)`,
		cleanSessions: r.Replace(`DELETE FROM {t} WHERE ctid = ANY (ARRAY(
SELECT ctid FROM {t} WHERE expiry <= $1 ORDER BY expiry LIMIT $2 FOR UPDATE SKIP LOCKED)) AND expiry <= $1`),
		cleanTombstones: r.Replace(`DELETE FROM {tt} WHERE ctid = ANY (ARRAY(
SELECT ctid FROM {tt} WHERE expiry <= $1 ORDER BY expiry LIMIT $2 FOR UPDATE SKIP LOCKED)) AND expiry <= $1`),
		migrate: migrateLock + r.Replace(`
CREATE TABLE IF NOT EXISTS {t} (token TEXT PRIMARY KEY, data BYTEA NOT NULL, expiry TIMESTAMPTZ NOT NULL);
CREATE INDEX IF NOT EXISTS {ti} ON {t} (expiry);
`) + createTombstones,
		probe: `SELECT to_regclass(` + quoteLiteral(n.tombstones) + `) IS NOT NULL,
current_setting('server_version_num')::int >= 150000`,
		createTombstones: migrateLock + "\n" + createTombstones,
	}
}

// quoteLiteral quotes s as an SQL string literal. Table names are validated
// identifiers, so this only ever has to double single quotes defensively.
func quoteLiteral(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// Migrate creates the sessions table, its expiry index, the tombstone table
// and its index if they do not exist. It is idempotent and safe to run from
// several replicas at once (an advisory lock serialises them). NewWithConfig
// calls it when Config.CreateTable is set; call it yourself from a
// deployment step otherwise, or apply the same DDL with your migrations.
func (s *PostgresStore) Migrate(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.bounded())
	defer cancel()
	if _, err := s.pool.Exec(ctx, s.q.migrate); err != nil {
		return fmt.Errorf("pgstore: migrate %s: %w", s.names.display, err)
	}
	var exists, merge bool
	if err := s.pool.QueryRow(ctx, s.q.probe).Scan(&exists, &merge); err != nil {
		return fmt.Errorf("pgstore: migrate %s: %w", s.names.display, err)
	}
	s.legacy.Store(!merge)
	s.tomb.Store(tombOn)
	return nil
}

// Tombstone table states.
const (
	tombUnknown int32 = iota
	tombOn
	tombOff
)

// knownTombstones reports whether Commit and Delete can use the tombstone
// table, if that is known already (known is false before the first use).
func (s *PostgresStore) knownTombstones() (on, known bool) {
	st := s.tomb.Load()
	return st == tombOn, st != tombUnknown
}

// tombstones reports whether Commit and Delete can use the tombstone table,
// finding out (and creating the table, and whether the server has MERGE)
// on first use. It returns an error only when the answer is not known yet,
// so that the operation fails and the next one asks again; a missing
// privilege is logged once and disables the guarantee for the life of the
// store.
func (s *PostgresStore) tombstones(ctx context.Context) (bool, error) {
	if on, known := s.knownTombstones(); known {
		return on, nil
	}
	s.tombMu.Lock()
	defer s.tombMu.Unlock()
	if st := s.tomb.Load(); st != tombUnknown {
		return st == tombOn, nil
	}
	var exists, merge bool
	if err := s.pool.QueryRow(ctx, s.q.probe).Scan(&exists, &merge); err != nil {
		return false, err
	}
	s.legacy.Store(!merge)
	if !exists {
		if _, err := s.pool.Exec(ctx, s.q.createTombstones); err != nil {
			if !isPermanent(err) {
				return false, err
			}
			s.log.Warn("pgstore: cannot create the tombstone table; a Commit racing a Delete of the same session may bring it back",
				"table", s.names.display, "err", err)
			s.tomb.Store(tombOff)
			return false, nil
		}
	}
	s.tomb.Store(tombOn)
	return true, nil
}

// isPermanent reports whether err means the tombstone table can never be
// created by this role: no privilege, or a read-only transaction.
func isPermanent(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	switch pgErr.Code {
	case "42501", "25006": // insufficient_privilege, read_only_sql_transaction
		return true
	}
	return false
}

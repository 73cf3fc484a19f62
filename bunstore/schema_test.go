package bunstore_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"

	"github.com/sessionstore/sessionstore/bunstore"
	"github.com/sessionstore/sessionstore/internal/sqltest"
	"github.com/sessionstore/sessionstore/internal/testenv"
)

// column returns the first column of every row of q.
func column(t *testing.T, db *bun.DB, q string, args ...any) []string {
	t.Helper()
	rows, err := db.DB.QueryContext(context.Background(), q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestNewDoesNotCreateTable keeps SCS bunstore's behaviour: New leaves the
// sessions table to Migrate (or to the user).
func TestNewDoesNotCreateTable(t *testing.T) {
	db := openSQLite(t)
	table := tableName()
	s, err := bunstore.NewWithConfig(db, bunstore.Config{Table: table})
	if err != nil {
		t.Fatal(err)
	}
	s.StopCleanup()
	if got := column(t, db, `SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?`, table); len(got) != 0 {
		t.Fatalf("New created table %s", table)
	}
	if err := s.Commit("tok", []byte("x"), time.Now().Add(time.Hour)); err == nil {
		t.Fatal("Commit succeeded without a sessions table")
	}
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit("tok", []byte("x"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
}

// TestExistingSCSTable runs Migrate on a table made by SCS's documented
// PostgreSQL schema: it must leave it as it is.
func TestExistingSCSTable(t *testing.T) {
	db := openPostgres(t)
	table := tableName()
	t.Cleanup(func() { dropTables(t, db, table) })
	for _, q := range []string{
		`CREATE TABLE ` + table + ` (token TEXT PRIMARY KEY, data BYTEA NOT NULL, expiry TIMESTAMPTZ NOT NULL)`,
		`CREATE INDEX ` + table + `_expiry_idx ON ` + table + ` (expiry)`,
	} {
		if _, err := db.ExecContext(context.Background(), q); err != nil {
			t.Fatal(err)
		}
	}
	s, err := bunstore.NewWithConfig(db, bunstore.Config{Table: table})
	if err != nil {
		t.Fatal(err)
	}
	s.StopCleanup()
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkPostgresSchema(t, db, table)
}

// TestMigrateCreatesTable checks the table Migrate creates, per dialect.
func TestMigrateCreatesTable(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect, db *bunDB) {
		table := tableName()
		newStore(t, db, bunstore.Config{Table: table})
		switch d.name {
		case "PostgreSQL":
			checkPostgresSchema(t, db, table)
		case "MariaDB":
			got := column(t, db, `SELECT CONCAT(column_name, ' ', column_type, ' ', is_nullable, ' ', COALESCE(collation_name, '-'))
				FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ? ORDER BY ordinal_position`, table)
			want := []string{"token varbinary(512) NO -", "data longblob NO -", "expiry datetime(6) NO -"}
			if strings.Join(got, ", ") != strings.Join(want, ", ") {
				t.Errorf("columns = %q, want %q", got, want)
			}
			n := column(t, db, `SELECT COUNT(DISTINCT index_name) FROM information_schema.statistics
				WHERE table_schema = DATABASE() AND table_name = ? AND column_name = 'expiry'`, table)
			if len(n) != 1 || n[0] != "1" {
				t.Errorf("%v indexes on expiry, want 1", n)
			}
		case "SQLite":
			n := column(t, db, `SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql LIKE '%(expiry)%'`, table)
			if len(n) != 1 || n[0] != "1" {
				t.Errorf("%v indexes on expiry, want 1", n)
			}
		}
	})
}

func checkPostgresSchema(t *testing.T, db *bun.DB, table string) {
	t.Helper()
	notNull := column(t, db, `SELECT column_name || ' ' || data_type FROM information_schema.columns
		WHERE table_name = $1 AND is_nullable = 'NO' ORDER BY ordinal_position`, table)
	want := "token text, data bytea, expiry timestamp with time zone"
	if strings.Join(notNull, ", ") != want {
		t.Errorf("NOT NULL columns = %q, want %q", notNull, want)
	}
	idx := column(t, db, `SELECT indexname FROM pg_indexes WHERE tablename = $1 AND indexdef LIKE '%(expiry)%'`, table)
	if len(idx) != 1 || idx[0] != table+"_expiry_idx" {
		t.Errorf("expiry indexes = %q, want [%s_expiry_idx]", idx, table)
	}
}

// TestBindParameters records the SQL the driver receives: tokens, data and
// times must travel as bind parameters, never inside the SQL text (Bun's
// own query builder would format them into it).
func TestBindParameters(t *testing.T) {
	dsn := testenv.PostgresDSN()
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	rec := &sqltest.Recorder{Connector: stdlib.GetConnector(*cfg)}
	db := bun.NewDB(sql.OpenDB(rec), pgdialect.New())
	t.Cleanup(func() { db.Close() })
	if err := db.PingContext(context.Background()); err != nil {
		testenv.Unavailable(t, "PostgreSQL at 127.0.0.1:5432", "set "+testenv.PostgresEnv, err)
	}
	s := newStore(t, db, bunstore.Config{})
	tok, data := "tok'en-\"secret\"-7f3a", []byte("da'ta-9c2b")
	if err := s.Commit(tok, data, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Find(tok); err != nil {
		t.Fatal(err)
	}
	if _, err := s.All(); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(tok); err != nil {
		t.Fatal(err)
	}
	var bound int
	year := time.Now().Format("2006-")
	for _, st := range rec.Statements() {
		if strings.Contains(st.Query, "7f3a") || strings.Contains(st.Query, "9c2b") || strings.Contains(st.Query, year) {
			t.Errorf("value inlined into SQL: %s", st.Query)
		}
		for _, a := range st.Args {
			if a == tok {
				bound++
			}
		}
	}
	if bound < 3 {
		t.Errorf("token bound in %d statements, want Commit, Find and Delete", bound)
	}
}

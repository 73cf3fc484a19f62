package gormstore_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"

	"github.com/sessionstore/sessionstore/gormstore"
	"github.com/sessionstore/sessionstore/internal/sqltest"
	"github.com/sessionstore/sessionstore/internal/testenv"
)

// TestExistingSCSTable runs New on a table made by SCS's documented
// PostgreSQL schema: New must leave it as it is (SCS's AutoMigrate drops
// NOT NULL from data and adds a second expiry index).
func TestExistingSCSTable(t *testing.T) {
	db := openPostgres(t)
	table := tableName()
	t.Cleanup(func() { dropTables(t, db, table) })
	for _, q := range []string{
		`CREATE TABLE ` + table + ` (token TEXT PRIMARY KEY, data BYTEA NOT NULL, expiry TIMESTAMPTZ NOT NULL)`,
		`CREATE INDEX ` + table + `_expiry_idx ON ` + table + ` (expiry)`,
	} {
		if err := db.Exec(q).Error; err != nil {
			t.Fatal(err)
		}
	}
	s, err := gormstore.NewWithConfig(db, gormstore.Config{Table: table})
	if err != nil {
		t.Fatal(err)
	}
	s.StopCleanup()
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkPostgresSchema(t, db, table)
}

// TestNewCreatesTable checks the table New creates, per dialect.
func TestNewCreatesTable(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect, db *gormDB) {
		table := tableName()
		newStore(t, db, gormstore.Config{Table: table})
		switch d.name {
		case "PostgreSQL":
			checkPostgresSchema(t, db, table)
		case "MariaDB":
			var got []string
			err := db.Raw(`SELECT CONCAT(column_name, ' ', column_type, ' ', is_nullable, ' ', COALESCE(collation_name, '-'))
				FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ? ORDER BY ordinal_position`, table).
				Scan(&got).Error
			if err != nil {
				t.Fatal(err)
			}
			want := []string{"token varbinary(512) NO -", "data longblob NO -", "expiry datetime(6) NO -"}
			if strings.Join(got, ", ") != strings.Join(want, ", ") {
				t.Errorf("columns = %q, want %q", got, want)
			}
			var n int
			db.Raw(`SELECT COUNT(DISTINCT index_name) FROM information_schema.statistics
				WHERE table_schema = DATABASE() AND table_name = ? AND column_name = 'expiry'`, table).Scan(&n)
			if n != 1 {
				t.Errorf("%d indexes on expiry, want 1", n)
			}
		case "SQLite":
			var n int
			db.Raw(`SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql LIKE '%(expiry)%'`, table).Scan(&n)
			if n != 1 {
				t.Errorf("%d indexes on expiry, want 1", n)
			}
		}
	})
}

func checkPostgresSchema(t *testing.T, db *gorm.DB, table string) {
	t.Helper()
	var notNull []string
	if err := db.Raw(`SELECT column_name || ' ' || data_type FROM information_schema.columns
		WHERE table_name = ? AND is_nullable = 'NO' ORDER BY ordinal_position`, table).Scan(&notNull).Error; err != nil {
		t.Fatal(err)
	}
	want := "token text, data bytea, expiry timestamp with time zone"
	if strings.Join(notNull, ", ") != want {
		t.Errorf("NOT NULL columns = %q, want %q", notNull, want)
	}
	var idx []string
	db.Raw(`SELECT indexname FROM pg_indexes WHERE tablename = ? AND indexdef LIKE '%(expiry)%'`, table).Scan(&idx)
	if len(idx) != 1 || idx[0] != table+"_expiry_idx" {
		t.Errorf("expiry indexes = %q, want [%s_expiry_idx]", idx, table)
	}
}

// TestBindParameters records the SQL the driver receives: tokens, data and
// times must travel as bind parameters, never inside the SQL text.
func TestBindParameters(t *testing.T) {
	dsn := testenv.PostgresDSN()
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	rec := &sqltest.Recorder{Connector: stdlib.GetConnector(*cfg)}
	sqlDB := sql.OpenDB(rec)
	t.Cleanup(func() { sqlDB.Close() })
	db, err := gorm.Open(postgres.New(postgres.Config{Conn: sqlDB}), quiet())
	if err == nil {
		err = db.Exec("SELECT 1").Error
	}
	if err != nil {
		testenv.Unavailable(t, "PostgreSQL at 127.0.0.1:5432", "set "+testenv.PostgresEnv, err)
	}
	s := newStore(t, db, gormstore.Config{})
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

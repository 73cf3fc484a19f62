package sqltest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sessionstore/sessionstore/internal/sqlstore"
)

// TestTransient checks transient, a store's retry classification, on
// errors the real server of dialect d returns through db, the store's own
// driver: a deadlock and, on PostgreSQL, a serialization failure must be
// transient; a unique violation must not, nor an error whose message
// carries the codes ("Error 1213 (40001)", "40P01") in a table name, which
// a classification by message would take for one.
func TestTransient(t *testing.T, db *sql.DB, d sqlstore.Dialect, transient func(error) bool) {
	t.Helper()
	ctx := context.Background()
	b := make([]byte, 6)
	rand.Read(b)
	table := "transient_" + hex.EncodeToString(b)
	exec := func(q string) {
		t.Helper()
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec("CREATE TABLE " + table + " (id INT PRIMARY KEY, v INT NOT NULL)")
	t.Cleanup(func() {
		if _, err := db.ExecContext(context.Background(), "DROP TABLE "+table); err != nil {
			t.Errorf("drop %s: %v", table, err)
		}
	})
	exec("INSERT INTO " + table + " (id, v) VALUES (1, 0), (2, 0)")

	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"Deadlock", deadlock(t, db, table), true},
	}
	if d == sqlstore.Postgres {
		cases = append(cases, struct {
			name string
			err  error
			want bool
		}{"SerializationFailure", serializationFailure(t, db, table), true})
	}
	_, unique := db.ExecContext(ctx, "INSERT INTO "+table+" (id, v) VALUES (1, 0)")
	lookalike := "SELECT * FROM \"Error 1213 (40001) 40P01\""
	if d == sqlstore.MySQL {
		lookalike = "SELECT * FROM `Error 1213 (40001) 40P01`"
	}
	_, look := db.ExecContext(ctx, lookalike)
	cases = append(cases, []struct {
		name string
		err  error
		want bool
	}{
		{"UniqueViolation", unique, false},
		{"CodesInMessage", look, false},
	}...)
	for _, c := range cases {
		if c.err == nil {
			t.Errorf("%s: the server returned no error", c.name)
			continue
		}
		if got := transient(c.err); got != c.want {
			t.Errorf("%s: transient(%v) = %v, want %v", c.name, c.err, got, c.want)
		}
		if got := transient(fmt.Errorf("store: op: %w", c.err)); got != c.want {
			t.Errorf("%s, wrapped: transient = %v, want %v", c.name, got, c.want)
		}
	}
}

// deadlock makes two transactions lock rows 1 and 2 of table in opposite
// orders and returns the error of the one the server picks as the victim.
func deadlock(t *testing.T, db *sql.DB, table string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	txs := make([]*sql.Tx, 2)
	for i := range txs {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("UPDATE %s SET v = v + 1 WHERE id = %d", table, i+1)); err != nil {
			t.Fatal(err)
		}
		txs[i] = tx
	}
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i, tx := range txs {
		wg.Go(func() {
			_, errs[i] = tx.ExecContext(ctx, fmt.Sprintf("UPDATE %s SET v = v + 1 WHERE id = %d", table, 2-i))
			if errs[i] != nil {
				tx.Rollback() // releases the other
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil && (errs[0] == nil || errs[1] == nil) {
		return err
	}
	t.Fatalf("want exactly one deadlock victim, got %v and %v", errs[0], errs[1])
	return nil
}

// serializationFailure updates a row that a concurrent transaction changed
// after a REPEATABLE READ transaction's snapshot (PostgreSQL: 40001).
func serializationFailure(t *testing.T, db *sql.DB, table string) error {
	t.Helper()
	ctx := context.Background()
	tx, err := db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead})
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	var v int
	if err := tx.QueryRowContext(ctx, "SELECT v FROM "+table+" WHERE id = 1").Scan(&v); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, "UPDATE "+table+" SET v = v + 1 WHERE id = 1"); err != nil {
		t.Fatal(err)
	}
	_, err = tx.ExecContext(ctx, "UPDATE "+table+" SET v = v + 1 WHERE id = 1")
	return err
}

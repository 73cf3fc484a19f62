package sqltest

import (
	"strings"
	"testing"

	"github.com/sessionstore/sessionstore/internal/sqlstore"
)

// padSpaceRefused starts a store on MySQL/MariaDB tables whose token
// columns do not compare bytes exactly: the VARCHAR(512) utf8mb4_bin of
// earlier versions (PAD SPACE: "abc" = "abc  "), SCS's CHAR(43) and a
// case-insensitive VARCHAR. NewWithConfig must refuse, naming the ALTER
// statement; after that statement it starts.
func padSpaceRefused(t *testing.T, d Dialect, db DB) {
	if d.Dialect != sqlstore.MySQL {
		t.Skip("only MySQL and MariaDB have PAD SPACE collations")
	}
	for _, col := range []string{
		"VARCHAR(512) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
		"CHAR(43)",
		"VARCHAR(100) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci",
	} {
		table := freshTable("pad")
		for _, name := range []string{table, table + "_tombstones"} {
			t.Cleanup(func() { db.Exec("DROP TABLE IF EXISTS " + name) })
		}
		create := "CREATE TABLE " + table + " (token " + col + " NOT NULL PRIMARY KEY, data LONGBLOB NOT NULL, expiry DATETIME(6) NOT NULL)"
		if err := db.Exec(create); err != nil {
			t.Fatal(err)
		}
		s, err := db.TryStore(t, Options{Table: table})
		if err == nil {
			s.StopCleanup()
			t.Fatalf("NewWithConfig on a token column %s succeeded, want an error", col)
		}
		alter := "ALTER TABLE `" + table + "` MODIFY token " + sqlstore.MySQLTokenType + " NOT NULL"
		if !strings.Contains(err.Error(), alter) {
			t.Fatalf("NewWithConfig on a token column %s: %v; want the error to name %q", col, err, alter)
		}
		if err := db.Exec(alter); err != nil {
			t.Fatal(err)
		}
		if _, err := db.TryStore(t, Options{Table: table}); err != nil {
			t.Fatalf("NewWithConfig after %s: %v", alter, err)
		}
	}
}

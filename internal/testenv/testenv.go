// Package testenv decides what a test does when a database it needs cannot be
// reached: in CI (CI=true) it fails, elsewhere it skips with a message that
// says how to run it.
package testenv

import (
	"os"
	"strconv"
	"testing"
)

// InCI reports whether the tests run in CI, where every database must be up.
func InCI() bool {
	ci, _ := strconv.ParseBool(os.Getenv("CI"))
	return ci
}

// Unavailable fails t in CI and skips it elsewhere, because the server what
// (say "PostgreSQL at 127.0.0.1:5432") could not be reached. how tells the
// reader how to make it reachable ("set PGSTORE_TEST_DSN").
func Unavailable(t testing.TB, what, how string, err error) {
	t.Helper()
	if InCI() {
		t.Fatalf("%s is unreachable (%v); CI must run the database tests: %s", what, err, how)
	}
	t.Skipf("skipping: %s is unreachable (%v). To run these tests: %s, or run `make test`, which starts the databases", what, err, how)
}

// Getenv returns the environment variable key, or def when it is empty.
func Getenv(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// This file is built into every program under testdata with that program's
// main.go: what each of them checks of a store.
package main

import (
	"bytes"
	"fmt"
	"os"
	"time"

	"github.com/alexedwards/scs/v2"
)

// exercise commits, finds and deletes a session in store, and checks that a
// Commit after the Delete does not bring it back (docs/contract.md).
func exercise(store scs.Store) error {
	data := []byte("hello")
	if err := store.Commit("release-check-1", data, time.Now().Add(time.Hour)); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	got, found, err := store.Find("release-check-1")
	if err != nil || !found || !bytes.Equal(got, data) {
		return fmt.Errorf("find after commit: %q, %v, %v", got, found, err)
	}
	if err := store.Delete("release-check-1"); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	if _, found, err := store.Find("release-check-1"); err != nil || found {
		return fmt.Errorf("find after delete: %v, %v", found, err)
	}
	if err := store.Commit("release-check-1", data, time.Now().Add(time.Hour)); err != nil {
		return fmt.Errorf("commit after delete: %w", err)
	}
	if _, found, err := store.Find("release-check-1"); err != nil || found {
		return fmt.Errorf("find after a commit behind the delete: %v, %v (the delete was undone)", found, err)
	}
	return nil
}

// dsn returns the environment variable name, and whether it is set. The
// release check sets the test DSNs when CI=true; outside CI a database whose
// variable is unset is skipped with a message.
func dsn(name string) (string, bool) {
	v := os.Getenv(name)
	if v == "" {
		fmt.Printf("skipped: %s is not set (with CI=true, as in make test, it is the tests' default)\n", name)
	}
	return v, v != ""
}

// table is a table name of this run's own, so that nothing the tests or
// another run use is touched.
func table() string {
	return fmt.Sprintf("release_check_%d", os.Getpid())
}

// failed tracks whether a check failed; main exits 1 at the end if so.
var failed bool

// check reports the outcome of the check called what.
func check(what string, err error) {
	if err != nil {
		failed = true
		fmt.Fprintf(os.Stderr, "FAIL %s: %v\n", what, err)
		return
	}
	fmt.Printf("ok   %s\n", what)
}

// exit ends the program, with status 1 if a check failed.
func exit() {
	if failed {
		os.Exit(1)
	}
	os.Exit(0)
}

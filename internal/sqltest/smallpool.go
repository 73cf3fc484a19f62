package sqltest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// SmallPoolBound is the longest any one operation may take in SmallPool.
// A store that needs a second connection while it holds the only one waits
// for its Delete timeout (5 s) and fails; a store that works takes
// milliseconds.
const SmallPoolBound = 2500 * time.Millisecond

// SmallPool runs every store operation from several goroutines at once on
// db, whose connection pool the caller has limited to one or two
// connections (db.SetMaxOpenConns): concurrent Commits and Deletes, then
// Find, All, Sessions and DeleteExpired. Every call must succeed within
// SmallPoolBound. A store whose transaction prepares a statement through the
// pool (a second connection) fails here.
func SmallPool(t *testing.T, db DB) {
	s := db.NewStore(t, Options{})
	ctx := context.Background()
	timed := func(what string, fn func() error) {
		t.Helper()
		start := time.Now()
		err := fn()
		if took := time.Since(start); err != nil || took > SmallPoolBound {
			t.Errorf("%s: %v (took %v); want nil within %v", what, err, took.Round(time.Millisecond), SmallPoolBound)
		}
	}
	const goroutines, rounds = 4, 5
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range rounds {
				tok := fmt.Sprintf("pool-%d-%d", g, r)
				timed("Commit", func() error { return s.Commit(tok, []byte("v"), time.Now().Add(time.Hour)) })
				timed("Delete", func() error { return s.Delete(tok) })
				timed("Commit after Delete", func() error { return s.Commit(tok, []byte("v"), time.Now().Add(time.Hour)) })
				timed("Commit of a kept session", func() error {
					return s.Commit(fmt.Sprintf("kept-%d-%d", g, r), []byte("k"), time.Now().Add(time.Hour))
				})
				timed("Commit of an expired session", func() error {
					return s.Commit(fmt.Sprintf("old-%d-%d", g, r), []byte("o"), time.Now().Add(-time.Minute))
				})
				timed("Find", func() error {
					if _, ok, err := s.Find(tok); err != nil || ok {
						return fmt.Errorf("found %v, err %v; want not found", ok, err)
					}
					return nil
				})
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	// The readers and cleanup, each while the others run.
	var all map[string][]byte
	var listed int
	var deleted int64
	wg.Add(3)
	go func() {
		defer wg.Done()
		timed("All", func() error { var err error; all, err = s.All(); return err })
	}()
	go func() {
		defer wg.Done()
		timed("Sessions", func() error {
			for sess, err := range s.Sessions(ctx) {
				if err != nil {
					return err
				}
				// The loop body may use the store while iterating.
				if _, ok, err := s.Find(sess.Token); err != nil || !ok {
					return fmt.Errorf("find %s inside the Sessions loop: %v, %v", sess.Token, ok, err)
				}
				listed++
			}
			return nil
		})
	}()
	go func() {
		defer wg.Done()
		timed("DeleteExpired", func() error { var err error; deleted, err = s.DeleteExpired(ctx); return err })
	}()
	wg.Wait()
	if want := goroutines * rounds; len(all) != want || listed != want {
		t.Errorf("All = %d sessions, Sessions = %d; want %d", len(all), listed, want)
	}
	if want := int64(goroutines * rounds); deleted != want {
		t.Errorf("DeleteExpired = %d, want %d (the expired sessions)", deleted, want)
	}
}

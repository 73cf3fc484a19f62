package sqltest

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// AsyncCommit checks on the server (PostgreSQL) that a Commit of a store
// with Options.AsyncCommit returns before its WAL is flushed, while a
// Delete on the same store, and a Commit without the option, return after.
// Before each operation it waits for the WAL writer (which flushes
// asynchronous commits every wal_writer_delay, 200 ms by default) and reads
// the WAL insert position; right after, the flush position. A durable
// operation has flushed its commit record, which lies past the position
// read before it, whatever else the server does; an asynchronous Commit
// has not, unless another transaction's flush carried it. o is the rest of
// the stores' configuration.
func AsyncCommit(t *testing.T, db DB, o Options) {
	lsn := func(q string, args ...any) string {
		var l string
		if err := db.SQL().QueryRow(q, args...).Scan(&l); err != nil {
			t.Fatal(err)
		}
		return l
	}
	const tries = 10
	// flushed returns how many of tries runs of op were flushed on return;
	// after each, the token's session is want (nil: none).
	flushed := func(async bool, op func(s SQLStore, tok string) error, want []byte) int {
		o := o
		o.AsyncCommit, o.CleanupInterval = async, -1
		s := db.NewStore(t, o)
		n := 0
		for i := range tries {
			tok := fmt.Sprintf("token-%d", i)
			if err := s.Commit(tok, []byte("data"), time.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			time.Sleep(300 * time.Millisecond) // the WAL writer's flush, not an assertion
			before := lsn("SELECT pg_current_wal_insert_lsn()::text")
			if err := op(s, tok); err != nil {
				t.Fatal(err)
			}
			if lsn("SELECT (pg_current_wal_flush_lsn() > $1::text::pg_lsn)::text", before) == "true" {
				n++
			}
			// After the flush check: the operation took effect.
			b, ok, err := s.Find(tok)
			if err != nil {
				t.Fatal(err)
			}
			if ok != (want != nil) || string(b) != string(want) {
				t.Fatalf("Find(%s) after the operation = %q, %v; want %q, %v", tok, b, ok, want, want != nil)
			}
		}
		return n
	}
	commit := func(s SQLStore, tok string) error {
		return s.Commit(tok, []byte("changed"), time.Now().Add(time.Hour))
	}
	del := func(s SQLStore, tok string) error { return s.Delete(tok) }
	async := flushed(true, commit, []byte("changed"))
	durable := flushed(false, commit, []byte("changed"))
	asyncDelete := flushed(true, del, nil)
	t.Logf("flushed on return: %d/%d async Commits, %d/%d durable Commits, %d/%d Deletes on the async store",
		async, tries, durable, tries, asyncDelete, tries)
	if durable != tries || asyncDelete != tries {
		t.Errorf("a durable operation returned before its WAL was flushed")
	}
	if async > tries/2 {
		t.Errorf("%d of %d async Commits were flushed when they returned: AsyncCommit does not take effect (or other traffic flushed them)", async, tries)
	}
}

// AsyncCommitRefused checks that NewWithConfig refuses AsyncCommit on a
// database other than PostgreSQL, with an error that names the field,
// rather than ignore it.
func AsyncCommitRefused(t *testing.T, db DB, name string) {
	s, err := db.TryStore(t, Options{Table: "async_refused", AsyncCommit: true})
	if err == nil {
		s.StopCleanup()
		t.Fatal("NewWithConfig accepted AsyncCommit")
	}
	if msg := err.Error(); !strings.HasPrefix(msg, name+": config: ") || !strings.Contains(msg, "AsyncCommit") {
		t.Errorf("error %q: want %q and the field's name", msg, name+": config: ")
	}
}

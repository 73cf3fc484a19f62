package pgstore

// The scenarios of SCS's own pgxstore tests, run against this store on the
// same default table: an application switching its import keeps working.

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// scsPool returns a pool on a fresh schema holding SCS's sessions table.
func scsPool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	pool := newSchemaPool(t)
	if _, err := pool.Exec(context.Background(), scsSchema); err != nil {
		t.Fatal(err)
	}
	return pool
}

func TestSCSFind(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := scsPool(t)
	if _, err := pool.Exec(ctx, "INSERT INTO sessions VALUES('session_token', 'encoded_data', current_timestamp + interval '1 minute')"); err != nil {
		t.Fatal(err)
	}
	p := NewWithCleanupInterval(pool, 0)
	b, found, err := p.FindCtx(ctx, "session_token")
	if err != nil || !found || !bytes.Equal(b, []byte("encoded_data")) {
		t.Fatalf("FindCtx = %q, %v, %v; want encoded_data, true, nil", b, found, err)
	}
}

func TestSCSFindMissing(t *testing.T) {
	t.Parallel()
	p := NewWithCleanupInterval(scsPool(t), 0)
	_, found, err := p.FindCtx(context.Background(), "missing_session_token")
	if err != nil || found {
		t.Fatalf("FindCtx = %v, %v; want false, nil", found, err)
	}
}

func TestSCSSaveNew(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := scsPool(t)
	p := NewWithCleanupInterval(pool, 0)
	if err := p.CommitCtx(ctx, "session_token", []byte("encoded_data"), time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	var data []byte
	if err := pool.QueryRow(ctx, "SELECT data FROM sessions WHERE token = 'session_token'").Scan(&data); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, []byte("encoded_data")) {
		t.Fatalf("got %q, want encoded_data", data)
	}
}

func TestSCSSaveUpdated(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := scsPool(t)
	if _, err := pool.Exec(ctx, "INSERT INTO sessions VALUES('session_token', 'encoded_data', current_timestamp + interval '1 minute')"); err != nil {
		t.Fatal(err)
	}
	p := NewWithCleanupInterval(pool, 0)
	if err := p.CommitCtx(ctx, "session_token", []byte("new_encoded_data"), time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	var data []byte
	if err := pool.QueryRow(ctx, "SELECT data FROM sessions WHERE token = 'session_token'").Scan(&data); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, []byte("new_encoded_data")) {
		t.Fatalf("got %q, want new_encoded_data", data)
	}
}

func TestSCSExpiry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p := NewWithCleanupInterval(scsPool(t), 10*time.Millisecond)
	defer p.StopCleanup()
	if err := p.CommitCtx(ctx, "session_token", []byte("encoded_data"), time.Now().Add(100*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if _, found, err := p.FindCtx(ctx, "session_token"); !found || err != nil {
		t.Fatalf("FindCtx = %v, %v; want true, nil", found, err)
	}
	time.Sleep(100 * time.Millisecond)
	if _, found, err := p.FindCtx(ctx, "session_token"); found || err != nil {
		t.Fatalf("FindCtx after expiry = %v, %v; want false, nil", found, err)
	}
}

func TestSCSDelete(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := scsPool(t)
	if _, err := pool.Exec(ctx, "INSERT INTO sessions VALUES('session_token', 'encoded_data', current_timestamp + interval '1 minute')"); err != nil {
		t.Fatal(err)
	}
	p := NewWithCleanupInterval(pool, 0)
	if err := p.DeleteCtx(ctx, "session_token"); err != nil {
		t.Fatal(err)
	}
	if n := count(t, pool, "SELECT count(*) FROM sessions WHERE token = 'session_token'"); n != 0 {
		t.Fatalf("got %d rows, want 0", n)
	}
	// The drop-in store created its tombstone table on first use.
	if n := count(t, pool, "SELECT count(*) FROM sessions_tombstones WHERE token = 'session_token'"); n != 1 {
		t.Fatalf("got %d tombstones, want 1", n)
	}
}

func TestSCSCleanup(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := scsPool(t)
	p := NewWithCleanupInterval(pool, 200*time.Millisecond)
	defer p.StopCleanup()
	if err := p.CommitCtx(ctx, "session_token", []byte("encoded_data"), time.Now().Add(100*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if n := count(t, pool, "SELECT count(*) FROM sessions WHERE token = 'session_token'"); n != 1 {
		t.Fatalf("got %d rows, want 1", n)
	}
	// SCS sleeps 300ms for a 200ms interval; ours is jittered by ±20%, so
	// wait for the row to go rather than for a fixed time.
	deadline := time.Now().Add(5 * time.Second)
	for count(t, pool, "SELECT count(*) FROM sessions WHERE token = 'session_token'") != 0 {
		if time.Now().After(deadline) {
			t.Fatal("expired session not cleaned up after 5s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestSCSStopCleanup(t *testing.T) {
	t.Parallel()
	pool := scsPool(t)
	// SCS runs 100 parallel subtests; goroutines give the same overlap
	// without being throttled to GOMAXPROCS subtests at a time.
	var wg sync.WaitGroup
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := New(pool)
			time.Sleep(100 * time.Millisecond)
			p.StopCleanup()
		}()
	}
	wg.Wait()
}

func TestSCSStopNilCleanup(t *testing.T) {
	t.Parallel()
	p := NewWithCleanupInterval(scsPool(t), 0)
	time.Sleep(100 * time.Millisecond)
	p.StopCleanup() // must not block
}

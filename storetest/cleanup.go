package storetest

import (
	"context"
	"sync"
	"testing"
	"time"
)

func (s suite) testDeleteExpired(t *testing.T) {
	e := s.env(t)
	d, ok := e.store.(ExpiredDeleter)
	if !ok {
		t.Skip("store has no DeleteExpired method")
	}
	ttl := 150 * time.Millisecond
	if e.clock != nil {
		ttl = time.Minute
	}
	start := e.now()
	var short, long []string
	for range 5 {
		tok := token()
		short = append(short, tok)
		e.commit(tok, []byte("short"), e.now().Add(ttl))
	}
	for range 3 {
		tok := token()
		long = append(long, tok)
		e.commit(tok, []byte("long"), e.now().Add(time.Hour))
	}
	e.wait(ttl * 2)
	n, err := d.DeleteExpired(context.Background())
	if err != nil {
		t.Fatalf("DeleteExpired: %v", err)
	}
	if n < 5 {
		t.Errorf("DeleteExpired = %d, want at least 5", n)
	}
	if e.clock != nil {
		e.clock.Set(start) // back in time: deleted rows must really be gone
		for _, tok := range short {
			e.notFound(tok)
		}
	}
	for _, tok := range long {
		e.found(tok, []byte("long"))
	}
	if n, err := d.DeleteExpired(context.Background()); err != nil || n != 0 {
		t.Errorf("second DeleteExpired = %d, %v; want 0, nil", n, err)
	}
}

// testStopCleanup stops the cleanup twice and from several goroutines at
// once: each call must return (StopCleanup waits for the loop to exit), and
// the store must keep serving. Whether the loop's goroutine is really gone
// is for goleak.VerifyTestMain in the store's package: a check here would
// also see the goroutines of tests running in parallel.
func (s suite) testStopCleanup(t *testing.T) {
	e := s.env(t)
	st, ok := e.store.(CleanupStopper)
	if !ok {
		t.Skip("store has no StopCleanup method")
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		st.StopCleanup()
		st.StopCleanup()
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() { defer wg.Done(); st.StopCleanup() }()
		}
		wg.Wait()
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("StopCleanup did not return within 30 s")
	}
	// The store still serves requests without its cleanup loop.
	tok := token()
	e.commit(tok, []byte("x"), e.now().Add(time.Hour))
	e.found(tok, []byte("x"))
}

package gorillatest

import (
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/sessionstore/sessionstore/storetest"
)

// envFunc returns a fresh backend: a Maker on it, a store with the suite's
// key and the clock the backend reads.
type envFunc func(t *testing.T) (Maker, Store, *storetest.Clock)

// testConcurrent runs Gets and Saves of one session, and new sessions
// alongside, from several goroutines (run it under -race).
func testConcurrent(t *testing.T, env envFunc) {
	_, s, _ := env(t)
	sess, r := load(t, s, "sid")
	c := save(t, s, r, sess)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 5 {
				r := request(c)
				got, err := s.Get(r, "sid")
				if err != nil || got.IsNew {
					t.Errorf("Get: IsNew=%v err=%v", got.IsNew, err)
					return
				}
				got.Values["last"] = i*10 + j
				if err := got.Save(r, httptest.NewRecorder()); err != nil {
					t.Errorf("Save: %v", err)
				}
				r2 := request() // and new sessions alongside
				other, err := s.New(r2, "sid")
				if err != nil {
					t.Errorf("New: %v", err)
					return
				}
				if err := s.Save(r2, httptest.NewRecorder(), other); err != nil {
					t.Errorf("Save: %v", err)
				}
			}
		}()
	}
	wg.Wait()
	if got, _ := load(t, s, "sid", c); got.IsNew || got.Values["last"] == nil {
		t.Errorf("after concurrent saves: IsNew=%v values=%v", got.IsNew, got.Values)
	}
}

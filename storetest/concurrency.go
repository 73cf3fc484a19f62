package storetest

import (
	"bytes"
	"fmt"
	"sync"
	"testing"
	"time"
)

func (s suite) testConcurrency(t *testing.T) {
	e := s.env(t)
	const workers, ops = 64, 40
	shared := token()
	e.commit(shared, []byte("shared-0"), e.now().Add(time.Hour))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			own := token()
			for i := range ops {
				data := []byte(fmt.Sprintf("w%d-%d", w, i))
				if err := e.store.Commit(own, data, e.now().Add(time.Hour)); err != nil {
					t.Errorf("Commit: %v", err)
					return
				}
				got, ok, err := e.store.Find(own)
				if err != nil || !ok || !bytes.Equal(got, data) {
					t.Errorf("Find(own) = %q, %v, %v; want %q", got, ok, err, data)
					return
				}
				if err := e.store.Commit(shared, data, e.now().Add(time.Hour)); err != nil {
					t.Errorf("Commit(shared): %v", err)
					return
				}
				got, ok, err = e.store.Find(shared)
				if err != nil || !ok || !bytes.HasPrefix(got, []byte("w")) {
					t.Errorf("Find(shared) = %q, %v, %v", got, ok, err)
					return
				}
			}
			if err := e.store.Delete(own); err != nil {
				t.Errorf("Delete: %v", err)
			}
		}()
	}
	wg.Wait()
}

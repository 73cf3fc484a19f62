package memstore_test

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/sessionstore/sessionstore/memstore"
)

// An attacker creates sessions as fast as it can while real users keep
// using theirs. With MaxSessions, the heap stays bounded and the users'
// sessions, touched recently, outlive the flood's.
func TestFloodKeepsActiveUsers(t *testing.T) {
	if testing.Short() {
		t.Skip("floods the store")
	}
	now := time.Unix(1_700_000_000, 0)
	const (
		maxSessions = 6400
		users       = 1000
		flood       = 300_000
		idle        = 30 * time.Minute // the session manager's idle timeout
	)
	s := memstore.NewWithConfig(memstore.Config{MaxSessions: maxSessions, CleanupInterval: -1, Now: func() time.Time { return now }})
	payload := make([]byte, 512)
	touch := func(tok string) {
		if err := s.Commit(tok, payload, now.Add(idle)); err != nil {
			t.Fatal(err)
		}
	}
	for u := range users {
		touch(fmt.Sprint("user-", u))
	}
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := range flood {
		now = now.Add(time.Millisecond) // a new session every millisecond
		touch(fmt.Sprint("flood-", i))
		if i%500 == 0 { // every user makes a request every half second
			for u := range users {
				touch(fmt.Sprint("user-", u))
			}
		}
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)

	all := must(s.All())
	if len(all) > maxSessions {
		t.Fatalf("store holds %d sessions, MaxSessions is %d", len(all), maxSessions)
	}
	lost := 0
	for u := range users {
		if _, ok := all[fmt.Sprint("user-", u)]; !ok {
			lost++
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d active users lost their session to the flood", lost, users)
	}
	// What the bound allows, and then some for maps and index: 6400 sessions
	// of about 600 bytes is 4 MB.
	if grew := int64(after.HeapInuse) - int64(before.HeapInuse); grew > 16<<20 {
		t.Errorf("heap grew by %d bytes under a flood of %d sessions", grew, flood)
	}
	t.Logf("flood of %d sessions: %d held, %d users kept, heap %+d bytes", flood, len(all), users-lost, int64(after.HeapInuse)-int64(before.HeapInuse))
}

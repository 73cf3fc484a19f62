package hardening

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/sessionstore/sessionstore/gorillastore"
	"github.com/sessionstore/sessionstore/memstore"
)

// FuzzGorillaCookie: any cookie value. No panic, no error, and a fresh
// session with a fresh ID, never one named by the client.
func FuzzGorillaCookie(f *testing.F) {
	for _, seed := range []string{"", "abc", "MTcwMDAwMDAwMHxabc|def", "||||", "\x00", "%ff", "a=b; c=d"} {
		f.Add(seed)
	}
	mem := memstore.NewWithCleanupInterval(0)
	f.Cleanup(mem.StopCleanup)
	store, err := gorillastore.New(mem, []byte(gorillaKey))
	if err != nil {
		f.Fatal(err)
	}
	var mu sync.Mutex
	f.Fuzz(func(t *testing.T, value string) {
		mu.Lock()
		defer mu.Unlock()
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Cookie", (&http.Cookie{Name: "sid", Value: value}).String())
		s, err := store.New(r, "sid")
		if err != nil {
			t.Fatalf("New with cookie %q: %v", value, err)
		}
		if !s.IsNew || s.ID == "" || s.ID == value || len(s.Values) != 0 {
			t.Fatalf("cookie %q gave IsNew=%v ID=%q values=%v; want a fresh session", value, s.IsNew, s.ID, s.Values)
		}
	})
}

package memstore_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/sessionstore/sessionstore/memstore"
)

// An SCS session manager keeps its sessions in a MemStore.
func Example() {
	store := memstore.New()
	defer store.StopCleanup()

	sessions := scs.New()
	sessions.Store = store
	sessions.Lifetime = 24 * time.Hour

	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		n := sessions.GetInt(r.Context(), "visits") + 1
		sessions.Put(r.Context(), "visits", n)
		fmt.Fprintf(w, "visit %d", n)
	})
	srv := httptest.NewServer(sessions.LoadAndSave(mux))
	defer srv.Close()

	client := srv.Client()
	var cookie *http.Cookie
	for range 3 {
		req, _ := http.NewRequest("GET", srv.URL, nil)
		if cookie != nil {
			req.AddCookie(cookie)
		}
		res, err := client.Do(req)
		if err != nil {
			panic(err)
		}
		for _, c := range res.Cookies() {
			cookie = c
		}
		res.Body.Close()
	}
	all, _ := store.All()
	fmt.Println(len(all), "session")
	// Output: 1 session
}

// A bounded store for a public site: at most 100,000 sessions and 256 MiB,
// 64 KiB per session. When full, it evicts first the sessions created once
// and never used again.
func ExampleNewWithConfig() {
	store, err := memstore.NewWithConfig(memstore.Config{
		MaxSessions: 100_000,
		MaxBytes:    256 << 20,
		MaxDataSize: 64 << 10,
	})
	if err != nil {
		panic(err) // a negative setting
	}
	defer store.StopCleanup()

	err = store.Commit("token", make([]byte, 100<<10), time.Now().Add(time.Hour))
	fmt.Println(err)
	// Output: memstore: commit: session data of 102400 bytes exceeds MaxDataSize (65536)
}

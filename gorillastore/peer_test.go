package gorillastore

import (
	"net/http"
	"strings"
	"testing"

	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"
	"github.com/sessionstore/sessionstore/memstore"
)

// headerOnly is the ResponseWriter of antonlindstrom/pgstore's tests: only
// its header is used.
type headerOnly http.Header

func (h headerOnly) Header() http.Header     { return http.Header(h) }
func (headerOnly) Write([]byte) (int, error) { panic("not implemented") }
func (headerOnly) WriteHeader(int)           { panic("not implemented") }

// testPeerRounds is the shape of antonlindstrom/pgstore's own store test,
// which its users copy: the cookie of a later request is built with
// securecookie.EncodeMulti(session.Name(), session.ID, store.Codecs...),
// the ID as a string, and must load the session.
func testPeerRounds(t *testing.T, ss gorillaStore, codecs func() []securecookie.Codec) {
	req, _ := http.NewRequest("GET", "http://www.example.com", nil)
	session, err := ss.Get(req, "mysess")
	if err != nil {
		t.Fatal("failed to get session", err)
	}
	session.Values["counter"] = 1
	m := make(http.Header)
	if err = ss.Save(req, headerOnly(m), session); err != nil {
		t.Fatal("Failed to save session:", err)
	}
	if !strings.HasPrefix(m["Set-Cookie"][0], "mysess=") {
		t.Fatal("Cookie wasn't set!")
	}

	// The store's own cookie reads back through securecookie, into a
	// string (as antonlindstrom/pgstore's New does) and into a []byte.
	written := (&http.Response{Header: m}).Cookies()[0].Value
	var id string
	if err := securecookie.DecodeMulti("mysess", written, &id, codecs()...); err != nil || id != session.ID {
		t.Fatalf("DecodeMulti into a string: %q, %v; want the session ID", id, err)
	}
	var raw []byte
	if err := securecookie.DecodeMulti("mysess", written, &raw, codecs()...); err != nil || string(raw) != session.ID {
		t.Fatalf("DecodeMulti into a []byte: %q, %v; want the session ID", raw, err)
	}

	// Round 2: a cookie built by the caller from the ID string.
	req, _ = http.NewRequest("GET", "http://www.example.com", nil)
	encoded, err := securecookie.EncodeMulti(session.Name(), session.ID, codecs()...)
	if err != nil {
		t.Fatal("Failed to make cookie value", err)
	}
	req.AddCookie(sessions.NewCookie(session.Name(), encoded, session.Options))
	session, err = ss.Get(req, "mysess")
	if err != nil {
		t.Fatal("failed to get round 2 session", err)
	}
	if session.IsNew || session.Values["counter"] != 1 {
		t.Fatal("Retrieved session had wrong value:", session.Values["counter"])
	}
	session.Values["counter"] = 9
	if err = ss.Save(req, headerOnly(m), session); err != nil {
		t.Fatal("Failed to save session:", err)
	}

	// Round 3: the same cookie sees the update.
	req, _ = http.NewRequest("GET", "http://www.example.com", nil)
	req.AddCookie(sessions.NewCookie(session.Name(), encoded, session.Options))
	session, err = ss.Get(req, "mysess")
	if err != nil {
		t.Fatal("failed to get session round 3", err)
	}
	if session.Values["counter"] != 9 {
		t.Fatal("Retrieved session had wrong value in round 3:", session.Values["counter"])
	}

	// Round 4: MaxAge -1 deletes it.
	session.Options.MaxAge = -1
	if err = ss.Save(req, headerOnly(m), session); err != nil {
		t.Fatal("Failed to delete session:", err)
	}
	req, _ = http.NewRequest("GET", "http://www.example.com", nil)
	req.AddCookie(sessions.NewCookie(session.Name(), encoded, &sessions.Options{}))
	if session, _ = ss.Get(req, "mysess"); !session.IsNew {
		t.Fatal("the deleted session loads")
	}

	// Anything but an ID is refused, with an error naming the store.
	if _, err := securecookie.EncodeMulti("mysess", 42, codecs()...); err == nil || !strings.Contains(err.Error(), "gorillastore") {
		t.Errorf("EncodeMulti of an int: %v, want the store's error", err)
	}
}

// TestPeerAntonlindstromShape runs antonlindstrom/pgstore's test shape on
// PGStore and on the adapter, with signed and with encrypted cookies. (The
// module proxy does not serve github.com/antonlindstrom/pgstore, so its own
// test file cannot run here.)
func TestPeerAntonlindstromShape(t *testing.T) {
	pool := testPool(t)
	for _, pairs := range [][][]byte{{key1}, {key1, blockKey1}} {
		name := "Signed"
		if len(pairs) > 1 {
			name = "Encrypted"
		}
		t.Run("PGStore/"+name, func(t *testing.T) {
			s := newTestPGStore(t, pool, PGConfig{Config: Config{KeyPairs: pairs}})
			testPeerRounds(t, s, func() []securecookie.Codec { return s.Codecs })
		})
		t.Run("Adapter/"+name, func(t *testing.T) {
			s, err := NewWithConfig(newMemstore(t, memstore.Config{CleanupInterval: -1}), Config{KeyPairs: pairs})
			if err != nil {
				t.Fatal(err)
			}
			testPeerRounds(t, s, func() []securecookie.Codec { return s.Codecs })
		})
	}
}

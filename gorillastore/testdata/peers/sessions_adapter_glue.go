package sessions

// The glue between gorilla/sessions' own store tests, copied into a
// temporary module by TestPeerGorillaSessions, and our adapter over
// memstore: the constructors of gorilla's CookieStore and FilesystemStore
// that the tests call build gorillastore.New(memstore.New(), ...) instead.
// Our stores need a hash key; where a test gives none, the glue supplies
// one. Session, NewSession and Save are gorilla's.

import (
	"github.com/gorilla/sessions"
	"net/http"

	"github.com/sessionstore/sessionstore/gorillastore"
	"github.com/sessionstore/sessionstore/memstore"
)

type Session = sessions.Session

func NewSession(store sessions.Store, name string) *Session { return sessions.NewSession(store, name) }

func Save(r *http.Request, w http.ResponseWriter) error { return sessions.Save(r, w) }

func newStore(keyPairs ...[]byte) *gorillastore.Store {
	if len(keyPairs) == 0 {
		keyPairs = [][]byte{[]byte("peer-test-hash-key-0123456789abcdef")}
	}
	s, err := gorillastore.New(memstore.NewWithCleanupInterval(0), keyPairs...)
	if err != nil {
		panic(err)
	}
	return s
}

// NewCookieStore gives our store the default cookie options of gorilla's
// NewCookieStore (SameSite=None, Secure), which its tests check.
func NewCookieStore(keyPairs ...[]byte) *gorillastore.Store {
	s := newStore(keyPairs...)
	s.Options.SameSite = http.SameSiteNoneMode
	s.Options.Secure = true
	return s
}

func NewFilesystemStore(_ string, keyPairs ...[]byte) *gorillastore.Store {
	return newStore(keyPairs...)
}

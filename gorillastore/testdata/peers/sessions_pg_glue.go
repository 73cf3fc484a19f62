package sessions

// The glue between gorilla/sessions' own store tests, copied into a
// temporary module by TestPeerGorillaSessions, and our PGStore: the
// constructors of gorilla's CookieStore and FilesystemStore that the tests
// call build a PGStore instead, on the database of GORILLASTORE_PEER_DSN
// (a schema of its own). Our stores need a hash key; where a test gives
// none, the glue supplies one. Session, NewSession and Save are gorilla's.

import (
	"context"
	"net/http"
	"os"
	"sync"

	"github.com/gorilla/sessions"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionstore/sessionstore/gorillastore"
)

type Session = sessions.Session

func NewSession(store sessions.Store, name string) *Session { return sessions.NewSession(store, name) }

func Save(r *http.Request, w http.ResponseWriter) error { return sessions.Save(r, w) }

var pool = sync.OnceValue(func() *pgxpool.Pool {
	p, err := pgxpool.New(context.Background(), os.Getenv("GORILLASTORE_PEER_DSN"))
	if err != nil {
		panic(err)
	}
	return p
})

func newStore(keyPairs ...[]byte) *gorillastore.PGStore {
	if len(keyPairs) == 0 {
		keyPairs = [][]byte{[]byte("peer-test-hash-key-0123456789abcdef")}
	}
	s, err := gorillastore.NewPGStoreFromPool(pool(), keyPairs...)
	if err != nil {
		panic(err)
	}
	return s
}

// NewCookieStore gives our store the default cookie options of gorilla's
// NewCookieStore (SameSite=None, Secure), which its tests check.
func NewCookieStore(keyPairs ...[]byte) *gorillastore.PGStore {
	s := newStore(keyPairs...)
	s.Options.SameSite = http.SameSiteNoneMode
	s.Options.Secure = true
	return s
}

func NewFilesystemStore(_ string, keyPairs ...[]byte) *gorillastore.PGStore {
	return newStore(keyPairs...)
}

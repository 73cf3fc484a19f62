package sessionstore

import "time"

// V1Store is the Store interface of SCS v1 (github.com/alexedwards/scs,
// before the v2 module), whose write method is Save where v2's is Commit.
// Every SCS store in this repository implements it besides scs.Store, with
// Save meaning exactly Commit, so that code written against an SCS v1 store
// (the stores/memstore and stores/pgstore packages) compiles after changing
// its import.
type V1Store interface {
	Find(token string) (b []byte, found bool, err error)
	Save(token string, b []byte, expiry time.Time) error
	Delete(token string) error
}

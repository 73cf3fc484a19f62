// Command root is what a user of the root module builds: memstore behind an
// SCS session manager, with no database.
package main

import (
	"github.com/alexedwards/scs/v2"

	"github.com/sessionstore/sessionstore/memstore"
)

func main() {
	store := memstore.New()
	sessions := scs.New()
	sessions.Store = store
	check("memstore: commit, find, delete", exercise(store))
	store.StopCleanup()
	exit()
}

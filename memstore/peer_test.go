package memstore_test

import (
	"testing"

	"github.com/sessionstore/sessionstore/internal/peertest"
)

// pokesItems is why a test of SCS's memstore cannot run against ours: it
// reads or writes the SCS store's unexported items map.
const pokesItems = "reads or writes SCS memstore's unexported items map"

// TestPeerSCSMemstore runs SCS v2's own memstore_test.go against this
// memstore (docs/compatibility.md).
func TestPeerSCSMemstore(t *testing.T) {
	peertest.Run(t, "..", peertest.Peer{
		Module:  "github.com/alexedwards/scs/v2",
		Version: "v2.9.0",
		Dir:     "memstore",
		Files:   []string{"memstore_test.go"},
		Glue:    "testdata/peers/scsmemstore_glue.go",
		Skip: map[string]string{
			"TestFind":            pokesItems,
			"TestCommitNew":       pokesItems,
			"TestCommitUpdated":   pokesItems,
			"TestDelete":          pokesItems,
			"TestCleanupInterval": pokesItems,
		},
	})
}

// TestPeerSCSSessionManager runs SCS v2's own session manager tests with
// this memstore as the manager's default store: SCS's source and test files
// are copied into a temporary module with one import line changed, from
// SCS's memstore to this one.
func TestPeerSCSSessionManager(t *testing.T) {
	peertest.Run(t, "..", peertest.Peer{
		Module:  "github.com/alexedwards/scs/v2",
		Version: "v2.9.0",
		Imports: map[string]string{
			"github.com/alexedwards/scs/v2/memstore": "github.com/sessionstore/sessionstore/memstore",
		},
		Skip: map[string]string{
			// Our stores refuse a token no session manager issues; SCS's
			// Load of "" never reaches the store, so the rest holds.
			"TestSessionManager_Load/with_empty_token": "commits the empty token straight to the store, which refuses it (sessionstore.ErrInvalidToken)",
		},
	})
}

// TestPeerSCSv1Memstore runs SCS v1's own stores/memstore test file, whose
// store has Save where v2's has Commit, against this memstore.
func TestPeerSCSv1Memstore(t *testing.T) {
	peertest.Run(t, "..", peertest.Peer{
		Module:  "github.com/alexedwards/scs",
		Version: "v1.4.1",
		Dir:     "stores/memstore",
		Files:   []string{"memstore_test.go"},
		Glue:    "testdata/peers/scsv1memstore_glue.go",
		Skip: map[string]string{
			"TestFindBadData": "stores a string in SCS v1's go-cache and wants a type assertion error from Find; our store holds only []byte",
		},
	})
}

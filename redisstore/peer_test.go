package redisstore

import (
	"fmt"
	"testing"

	"github.com/sessionstore/sessionstore/internal/peertest"
)

// peerDB is the Redis database SCS's goredisstore tests run in: they call
// FLUSHDB, so it is one no other test uses (redisstore's tests use 9, the
// hardening tests 10, the benchmarks 11).
const peerDB = 12

// Why some of goredisstore's tests cannot hold here: both are deliberate
// (see the value layout in store.go and docs/compatibility.md).
const (
	noTTL = "writes a session key with no Redis expiry, which goredisstore's own Commit " +
		"leaves for a deadline already past (a negative TTL sets none); this store reads such a key as not found, " +
		"so that it never lives forever"
	ownLayout = "reads the raw key and wants the bare data; this store's value holds the expiry " +
		"(microseconds) before the data, so that it is checked against the application's clock"
)

// TestPeerSCSGoredisstore runs SCS's own goredisstore_test.go against this
// store (docs/compatibility.md).
func TestPeerSCSGoredisstore(t *testing.T) {
	addr := single(t).Options().Addr
	peertest.Run(t, ".", peertest.Peer{
		Module:  "github.com/alexedwards/scs/goredisstore",
		Version: "v0.0.0-20250212122300-421ef1d8611c",
		Files:   []string{"goredisstore_test.go"},
		Glue:    "testdata/peers/goredisstore_glue.go",
		Env:     []string{fmt.Sprintf("SCS_REDIS_TEST_DSN=redis://%s/%d", addr, peerDB)},
		Skip: map[string]string{
			"TestFind":        noTTL,
			"TestAll":         noTTL,
			"TestSaveNew":     ownLayout,
			"TestSaveUpdated": ownLayout,
		},
	})
}

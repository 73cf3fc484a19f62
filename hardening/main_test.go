package hardening

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// scs.New starts SCS's own memstore, which these tests replace and whose
	// cleanup goroutine nobody can stop.
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/alexedwards/scs/v2/memstore.(*MemStore).startCleanup"))
}

package hardening

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	code := m.Run()
	closePools()
	if code == 0 {
		// scs.New starts SCS's own memstore, which these tests replace and
		// whose cleanup goroutine nobody can stop.
		if err := goleak.Find(goleak.IgnoreTopFunction("github.com/alexedwards/scs/v2/memstore.(*MemStore).startCleanup")); err != nil {
			println("goleak:", err.Error())
			code = 1
		}
	}
	os.Exit(code)
}

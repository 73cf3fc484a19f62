package touchbench

import (
	"sync"
	"testing"
	"time"

	scsmem "github.com/alexedwards/scs/v2/memstore"

	"github.com/sessionstore/sessionstore/memstore"
)

var memTargets struct {
	once    sync.Once
	tokens  []string
	targets []target
}

// memTarget makes a memstore configured by cfg, filled with the seed.
func memTarget(b *testing.B, name string, cfg memstore.Config, tokens []string, data [][]byte, expiry time.Time) target {
	b.Helper()
	cfg.CleanupInterval = -1
	s, err := memstore.NewWithConfig(cfg)
	if err != nil {
		b.Fatal(err)
	}
	for i, tok := range tokens {
		if err := s.Commit(tok, data[i], expiry); err != nil {
			b.Fatal(err)
		}
	}
	return target{name: name, store: s}
}

// BenchmarkTouchMemory: SCS's own memstore (the reference an in-memory
// store has instead of a raw driver), memstore without TouchWindow, and
// with a one-minute window, under the same requests. There is no server,
// so no writes/op: TestTouchWrites in memstore counts them.
func BenchmarkTouchMemory(b *testing.B) {
	memTargets.once.Do(func() {
		tokens, data, expiry := seed()
		scs := scsmem.NewWithCleanupInterval(0)
		for i, tok := range tokens {
			if err := scs.Commit(tok, data[i], expiry); err != nil {
				b.Fatal(err)
			}
		}
		memTargets.tokens = tokens
		memTargets.targets = []target{
			{name: "scs-memstore", store: scs},
			memTarget(b, "memstore", memstore.Config{}, tokens, data, expiry),
			memTarget(b, "memstore+touch", memstore.Config{TouchWindow: window}, tokens, data, expiry),
		}
	})
	run(b, memTargets.targets, memTargets.tokens)
}

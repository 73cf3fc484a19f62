package touchbench

import (
	"fmt"
	mrand "math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionstore/sessionstore/pgstore"
)

var asyncTargets struct {
	once    sync.Once
	tokens  []string
	data    [][]byte
	targets []target
}

// BenchmarkAsyncCommit: a Commit-heavy load (half the operations a Commit
// of changed data, half a Find) on pgstore with durable Commits and with
// Config.AsyncCommit, at 8 and 64 goroutines.
func BenchmarkAsyncCommit(b *testing.B) {
	asyncTargets.once.Do(func() {
		tokens, data, expiry := seed()
		asyncTargets.tokens, asyncTargets.data = tokens, data
		asyncTargets.targets = []target{
			pgTarget(b, "durable", pgstore.Config{}, tokens, data, expiry),
			pgTarget(b, "async", pgstore.Config{AsyncCommit: true}, tokens, data, expiry),
		}
	})
	if asyncTargets.targets == nil {
		b.Skip("setup failed")
	}
	tokens, data := asyncTargets.tokens, asyncTargets.data
	expiry := time.Now().Add(idle)
	for round := range rounds() {
		for _, g := range []int{8, 64} {
			vacuum(b)
			for _, t := range asyncTargets.targets {
				b.Run(fmt.Sprintf("round=%d/g=%d/store=%s", round, g, t.name), func(b *testing.B) {
					p := max(g/runtime.GOMAXPROCS(0), 1)
					b.SetParallelism(p)
					var failed atomic.Value
					b.ResetTimer()
					b.RunParallel(func(pb *testing.PB) {
						r := mrand.New(mrand.NewPCG(mrand.Uint64(), 0))
						for pb.Next() {
							i := r.IntN(len(tokens))
							var err error
							if r.IntN(2) == 0 {
								d := append([]byte(nil), data[i]...)
								d[len(d)-1] ^= byte(r.Uint32()) // changed data
								err = t.store.Commit(tokens[i], d, expiry)
							} else {
								_, _, err = t.store.Find(tokens[i])
							}
							if err != nil {
								failed.Store(err)
								return
							}
						}
					})
					b.StopTimer()
					if err, _ := failed.Load().(error); err != nil {
						b.Fatal(err)
					}
				})
			}
		}
	}
}

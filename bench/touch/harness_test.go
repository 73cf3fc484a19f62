// Package touchbench measures coalesced touches (Config.TouchWindow) and
// pgstore's AsyncCommit: the workload of an SCS application with an idle
// timeout, where every request commits the session it loaded.
//
// Each target is a store under an scs.SessionManager with IdleTimeout 30
// minutes, holding 10k sessions of about 1 KiB with three keys; every
// request is Load (Find) then Commit, one in ten changing a value. The
// targets of one backend run in the same benchmark, one after another
// within each round (TOUCH_ROUNDS, see rounds), so compare their ratios
// within a round:
//
//	TOUCH_ROUNDS=6 go test -run '^$' -bench . -count 1 | tee touch.txt
//
// writes/op is the write statements (or commands) that reached the server
// per request, counted by the driver.
package touchbench

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
)

const (
	sessions = 10_000
	idle     = 30 * time.Minute
	window   = time.Minute
	// changeOneIn: one request in this many changes a value.
	changeOneIn = 10
)

// target is one store under test.
type target struct {
	name   string
	store  scs.Store
	writes func() int64 // writes that reached the server so far; nil: not counted (no server)
}

// seed returns the tokens and data of the sessions every target starts
// with: three keys, about 1 KiB, encoded by SCS's GobCodec.
func seed() (tokens []string, data [][]byte, expiry time.Time) {
	now := time.Now()
	deadline := now.Add(24 * time.Hour)
	pad := strings.Repeat("p", 900)
	for i := range sessions {
		b := make([]byte, 32)
		rand.Read(b)
		tokens = append(tokens, base64.RawURLEncoding.EncodeToString(b))
		d, err := scs.GobCodec{}.Encode(deadline, map[string]any{
			"user_id": fmt.Sprint("user-", i), "csrf": tokens[i][:32], "prefs": pad,
		})
		if err != nil {
			panic(err)
		}
		data = append(data, d)
	}
	return tokens, data, now.Add(idle)
}

// requests runs the workload on t with goroutines concurrent requests.
func requests(b *testing.B, t target, tokens []string, goroutines int) {
	sm := scs.New()
	sm.Store = t.store
	sm.IdleTimeout = idle
	sm.Lifetime = 24 * time.Hour
	p := goroutines / runtime.GOMAXPROCS(0)
	if p < 1 {
		p = 1
	}
	b.SetParallelism(p)
	var w0 int64
	if t.writes != nil {
		w0 = t.writes()
	}
	var failed atomic.Value
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		r := mrand.New(mrand.NewPCG(mrand.Uint64(), 0))
		for pb.Next() {
			tok := tokens[r.IntN(len(tokens))]
			ctx, err := sm.Load(context.Background(), tok)
			if err != nil {
				failed.Store(err)
				return
			}
			if r.IntN(changeOneIn) == 0 {
				sm.Put(ctx, "csrf", fmt.Sprint(r.Uint64()))
			}
			if _, _, err := sm.Commit(ctx); err != nil {
				failed.Store(err)
				return
			}
		}
	})
	b.StopTimer()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	if t.writes != nil {
		b.ReportMetric(float64(t.writes()-w0)/float64(b.N), "writes/op")
	}
}

// run runs every target at 8 and 64 goroutines, rounds() times, the
// targets one after another within each round, after a vacuum of their
// tables.
func run(b *testing.B, targets []target, tokens []string) {
	for round := range rounds() {
		for _, g := range []int{8, 64} {
			vacuum(b)
			for _, t := range targets {
				b.Run(fmt.Sprintf("round=%d/g=%d/store=%s", round, g, t.name), func(b *testing.B) {
					requests(b, t, tokens, g)
				})
			}
		}
	}
}

// rounds is TOUCH_ROUNDS, or 1. go test's -count repeats each target
// before it runs the next one, so the targets of one -count round are
// minutes apart; the rounds of TOUCH_ROUNDS (with -count 1) run them in
// turn, so that a ratio within a round compares the same minute of the
// machine.
func rounds() int {
	if n, err := strconv.Atoi(os.Getenv("TOUCH_ROUNDS")); err == nil && n > 0 {
		return n
	}
	return 1
}

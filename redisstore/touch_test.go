package redisstore

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/redis/go-redis/v9"

	"github.com/sessionstore/sessionstore/storetest"
)

// cmdHook records the commands that reached Redis and succeeded (or found
// nothing): their names and, for scripts, their SHA1. A NOSCRIPT reply,
// which go-redis follows with an EVAL, is not recorded, nor a new
// connection's handshake.
type cmdHook struct {
	mu   sync.Mutex
	cmds []string // "get", "evalsha <sha>", ...
}

func (h *cmdHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *cmdHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
		args := cmd.Args()
		name := strings.ToLower(fmt.Sprint(args[0]))
		switch {
		case name == "hello" || name == "select" || name == "client" || name == "auth":
			return nil
		case name == "evalsha" && len(args) > 1:
			name += " " + fmt.Sprint(args[1])
		case name == "eval" && len(args) > 1:
			sum := sha1.Sum([]byte(fmt.Sprint(args[1])))
			name = "evalsha " + hex.EncodeToString(sum[:])
		}
		h.mu.Lock()
		h.cmds = append(h.cmds, name)
		h.mu.Unlock()
		return nil
	}
}
func (h *cmdHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// take returns the commands recorded so far, and forgets them.
func (h *cmdHook) take() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	cmds := h.cmds
	h.cmds = nil
	return cmds
}

// TestTouchWrites counts the commands that reach Redis, through a go-redis
// hook, while unchanged sessions are committed every 5 seconds for 10
// minutes of fake time, on one server and on the cluster, with the per-user
// index off and on: with Config.TouchWindow one minute, at most one write
// per session per minute after its first Commit; without it, one per
// Commit. Each Find is one GET either way.
func TestTouchWrites(t *testing.T) {
	const (
		sessions = 5
		step     = 5 * time.Second
		span     = 10 * time.Minute
		idle     = 30 * time.Minute
		window   = time.Minute
	)
	rounds := int(span / step)
	blob := strings.Repeat("x", 1000)
	clients(t, func(t *testing.T, c redis.UniversalClient) {
		h := &cmdHook{}
		var hc redis.UniversalClient
		switch c := c.(type) {
		case *redis.Client:
			hc = redis.NewClient(c.Options())
		case *redis.ClusterClient:
			hc = redis.NewClusterClient(c.Options())
		}
		t.Cleanup(func() { hc.Close() }) // after newStore's cleanup
		hc.AddHook(h)
		for _, indexed := range []bool{false, true} {
			for _, w := range []time.Duration{window, 0} {
				t.Run(fmt.Sprintf("indexed=%v/window=%v", indexed, w), func(t *testing.T) {
					clock := storetest.NewClock(time.Now().Truncate(time.Microsecond))
					cfg := Config{Now: clock.Now, TouchWindow: w}
					commitSHA := commitScript.Hash()
					if indexed {
						cfg.Owner, commitSHA = storetest.Owner, idxCommitScript.Hash()
					}
					s := newStore(t, hc, cfg)
					deadline := clock.Now().Add(24 * time.Hour)
					encode := func(i int) []byte {
						values := map[string]any{storetest.OwnerKey: fmt.Sprint("user-", i), "csrf": "7oMz0bZnQpR1", "blob": blob}
						b, err := scs.GobCodec{}.Encode(deadline, values)
						if err != nil {
							t.Fatal(err)
						}
						return b
					}
					h.take()
					finds := 0
					for round := 0; round <= rounds; round++ {
						for i := range sessions {
							tok := fmt.Sprint("touch-", i)
							if round > 0 {
								finds++
								if _, ok, err := s.Find(tok); err != nil || !ok {
									t.Fatalf("round %d: Find = %v, %v", round, ok, err)
								}
							}
							if err := s.Commit(tok, encode(i), clock.Now().Add(idle)); err != nil {
								t.Fatalf("round %d: Commit: %v", round, err)
							}
						}
						clock.Advance(step)
					}
					// Without the index a Commit is a SET XX, followed by the
					// commit script only for a key that does not exist yet
					// (the first round); with it, the index's commit script.
					gets, writes, creates, other := 0, 0, 0, map[string]int{}
					for _, cmd := range h.take() {
						switch {
						case cmd == "get":
							gets++
						case cmd == "set" && !indexed, cmd == "evalsha "+commitSHA && indexed:
							writes++
						case cmd == "evalsha "+commitSHA:
							creates++
						default:
							other[cmd]++
						}
					}
					if !indexed && creates != sessions {
						t.Errorf("%d commit scripts for %d new sessions, want one each", creates, sessions)
					}
					commits := sessions * (rounds + 1)
					most := sessions * (1 + int(span/window))
					t.Logf("%d Commits: %d commit scripts, %d GETs, others %v", commits, writes, gets, other)
					switch {
					case w > 0 && writes > most:
						t.Errorf("%d writes for %d Commits, want at most %d (one per session per minute, plus the first)", writes, commits, most)
					case w > 0 && writes < 2*sessions:
						t.Errorf("%d writes for %d Commits: the expiry never moved on", writes, commits)
					case w == 0 && writes != commits:
						t.Errorf("%d writes for %d Commits without TouchWindow, want one each", writes, commits)
					}
					if gets != finds {
						t.Errorf("%d GETs for %d Finds, want one each", gets, finds)
					}
					// The cluster's index adds its user's tag once per session.
					if len(other) > 0 && !(indexed && len(other) == 1 && other["evalsha "+idxSlotsScript.Hash()] <= sessions) {
						t.Errorf("other commands: %v", other)
					}
				})
			}
		}
	})
}

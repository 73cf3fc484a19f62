package touchbench

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/scs/goredisstore"
	"github.com/redis/go-redis/v9"

	"github.com/sessionstore/sessionstore/internal/testenv"
	"github.com/sessionstore/sessionstore/redisstore"
)

// redisWrites counts the commands a client sends that are not reads
// (GET, and a new connection's handshake).
type redisWrites struct{ n atomic.Int64 }

func write(cmd redis.Cmder) bool {
	switch strings.ToLower(cmd.Name()) {
	case "get", "hello", "select", "client", "auth", "ping":
		return false
	}
	return true
}

func (h *redisWrites) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *redisWrites) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if write(cmd) {
			h.n.Add(1)
		}
		return next(ctx, cmd)
	}
}
func (h *redisWrites) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, cmd := range cmds {
			if write(cmd) && cmd.Name() != "multi" && cmd.Name() != "exec" {
				h.n.Add(1)
			}
		}
		return next(ctx, cmds)
	}
}

var redisTargets struct {
	once    sync.Once
	tokens  []string
	targets []target
}

// BenchmarkTouchRedis: SCS's goredisstore, redisstore without TouchWindow,
// and with a one-minute window, on one Redis server (database 12, keys
// under a prefix of this run, deleted at the end), under the same requests.
func BenchmarkTouchRedis(b *testing.B) {
	redisTargets.once.Do(func() {
		addr := testenv.RedisAddr()
		prefix := fmt.Sprintf("touchbench:%d:", time.Now().UnixNano())
		client := func() (*redis.Client, *redisWrites) {
			c := redis.NewClient(&redis.Options{Addr: addr, DB: 12, PoolSize: poolConns})
			if err := c.Ping(context.Background()).Err(); err != nil {
				testenv.Unavailable(b, "Redis at "+addr, "set "+testenv.RedisEnv, err)
			}
			h := &redisWrites{}
			c.AddHook(h)
			b.Cleanup(func() {
				ctx := context.Background()
				it := c.Scan(ctx, 0, "*"+prefix+"*", 1000).Iterator()
				for it.Next(ctx) {
					c.Del(ctx, it.Val())
				}
				c.Close()
			})
			return c, h
		}
		tokens, data, expiry := seed()
		fillStore := func(s interface {
			CommitCtx(context.Context, string, []byte, time.Time) error
		}) {
			for i, tok := range tokens {
				if err := s.CommitCtx(context.Background(), tok, data[i], expiry); err != nil {
					b.Fatal(err)
				}
			}
		}
		var targets []target
		c, h := client()
		g := goredisstore.NewWithPrefix(c, prefix+"scs:")
		fillStore(g)
		targets = append(targets, target{name: "goredisstore", store: g, writes: h.n.Load})
		for _, t := range []struct {
			name string
			cfg  redisstore.Config
		}{
			{"redisstore", redisstore.Config{}},
			{"redisstore+touch", redisstore.Config{TouchWindow: window}},
		} {
			c, h := client()
			t.cfg.Prefix = prefix + t.name + ":session:"
			s, err := redisstore.NewWithConfig(c, t.cfg)
			if err != nil {
				b.Fatal(err)
			}
			fillStore(s)
			targets = append(targets, target{name: t.name, store: s, writes: h.n.Load})
		}
		redisTargets.tokens, redisTargets.targets = tokens, targets
	})
	if redisTargets.targets == nil {
		b.Skip("setup failed")
	}
	run(b, redisTargets.targets, redisTargets.tokens)
}

package hardening

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionstore/sessionstore/internal/testenv"
	"github.com/sessionstore/sessionstore/redisstore"
	"github.com/sessionstore/sessionstore/redisstore/redistest"
)

// redisstore on the Redis at SESSIONSTORE_REDIS_ADDR (default
// 127.0.0.1:6379, database 10), and on a Redis Cluster of three masters
// that the first test needing it starts from redis-server in a temporary
// directory; closeRedis (from closePools) stops it.
var redisEnv struct {
	singleOnce sync.Once
	single     *redis.Client
	singleErr  error

	clusterOnce sync.Once
	dir         string
	cluster     *redistest.Cluster
	clients     []*redis.ClusterClient
	clusterErr  error
	mu          sync.Mutex
}

func redisBackends() []backend {
	return []backend{
		{"redisstore", func(t testing.TB) Store { return openRedisStore(t, redisSingle(t), redisPrefix(), redisstore.Config{}) }},
		{"redisstore-cluster", func(t testing.TB) Store {
			return openRedisStore(t, redisCluster(t), redisPrefix(), redisstore.Config{})
		}},
	}
}

func redisSingle(t testing.TB) *redis.Client {
	t.Helper()
	redisEnv.singleOnce.Do(func() {
		addr := testenv.RedisAddr()
		redisEnv.single = redis.NewClient(&redis.Options{Addr: addr, DB: 10, PoolSize: 32})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		redisEnv.singleErr = redisEnv.single.Ping(ctx).Err()
	})
	if redisEnv.singleErr != nil {
		testenv.Unavailable(t, "Redis at 127.0.0.1:6379", "set "+testenv.RedisEnv, redisEnv.singleErr)
	}
	return redisEnv.single
}

// redisCluster returns a new client of the shared cluster (each replica
// of an application has its own).
func redisCluster(t testing.TB) *redis.ClusterClient {
	t.Helper()
	redisEnv.clusterOnce.Do(func() {
		redisEnv.dir, redisEnv.clusterErr = os.MkdirTemp("", "hardening-redis-")
		if redisEnv.clusterErr == nil {
			redisEnv.cluster, redisEnv.clusterErr = redistest.Start(redisEnv.dir, redistest.Options{Masters: 3})
		}
	})
	if redisEnv.clusterErr != nil {
		testenv.Unavailable(t, "a Redis Cluster started from redis-server", "install redis-server", redisEnv.clusterErr)
	}
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: redisEnv.cluster.Addrs()})
	redisEnv.mu.Lock()
	redisEnv.clients = append(redisEnv.clients, c)
	redisEnv.mu.Unlock()
	return c
}

// redisPrefix returns a session prefix no other store uses.
func redisPrefix() string {
	b := make([]byte, 6)
	rand.Read(b)
	return "hardening:" + hex.EncodeToString(b) + ":session:"
}

// openRedisStore returns a store on c under prefix (two stores under one
// prefix are two replicas of one application), whose keys go when t ends.
func openRedisStore(t testing.TB, c redis.UniversalClient, prefix string, cfg redisstore.Config) *redisstore.RedisStore {
	t.Helper()
	cfg.Prefix = prefix
	s, err := redisstore.NewWithConfig(c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dropRedisKeys(t, c, prefix) })
	return s
}

// dropRedisKeys deletes the keys of the store under prefix: its sessions
// and (with the default tombstone prefix) its tombstones.
func dropRedisKeys(t testing.TB, c redis.UniversalClient, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tomb := prefix[:len(prefix)-len("session:")] + "tombstone:"
	drop := func(ctx context.Context, n *redis.Client) error {
		for _, p := range []string{prefix, tomb} {
			iter := n.Scan(ctx, 0, p+"*", 1000).Iterator()
			for iter.Next(ctx) {
				n.Del(ctx, iter.Val())
			}
			if err := iter.Err(); err != nil {
				return err
			}
		}
		return nil
	}
	var err error
	switch c := c.(type) {
	case *redis.ClusterClient:
		err = c.ForEachMaster(ctx, drop)
	case *redis.Client:
		err = drop(ctx, c)
	}
	if err != nil {
		t.Errorf("drop redis keys: %v", err)
	}
}

func closeRedis() {
	if redisEnv.single != nil {
		redisEnv.single.Close()
	}
	for _, c := range redisEnv.clients {
		c.Close()
	}
	if redisEnv.cluster != nil {
		redisEnv.cluster.Stop()
		os.RemoveAll(redisEnv.dir)
	}
}

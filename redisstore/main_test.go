package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/sessionstore/sessionstore/internal/testenv"
	"github.com/sessionstore/sessionstore/redisstore/redistest"
)

// The single-server tests use the Redis at SESSIONSTORE_REDIS_ADDR (default
// 127.0.0.1:6379), database testDB, each store under a prefix of its own
// that the test deletes afterwards. The cluster tests share one cluster of
// three masters with a replica each, started by TestMain from redis-server
// in a temporary directory and stopped after the last test.
const testDB = 9

var (
	cluster    *redistest.Cluster
	clusterErr error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "redisstore-cluster-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// go-redis logs every failed dial; the fault test makes hundreds.
	redis.SetLogger(quietLogger{})
	cluster, clusterErr = redistest.Start(dir, redistest.Options{Masters: 3, Replicas: 1})
	code := m.Run()
	closeClients()
	stopSentinel()
	if cluster != nil {
		cluster.Stop()
	}
	os.RemoveAll(dir)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

var (
	singleOnce   sync.Once
	singleClient *redis.Client
	singleErr    error

	clusterOnce   sync.Once
	clusterClient *redis.ClusterClient
)

// single returns the client shared by the single-server tests.
func single(t testing.TB) *redis.Client {
	t.Helper()
	singleOnce.Do(func() {
		addr := testenv.RedisAddr()
		singleClient = redis.NewClient(&redis.Options{Addr: addr, DB: testDB, PoolSize: 32})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		singleErr = singleClient.Ping(ctx).Err()
	})
	if singleErr != nil {
		testenv.Unavailable(t, "Redis at 127.0.0.1:6379", "set "+testenv.RedisEnv, singleErr)
	}
	return singleClient
}

// clusterC returns the client of the shared cluster.
func clusterC(t testing.TB) *redis.ClusterClient {
	t.Helper()
	if clusterErr != nil {
		testenv.Unavailable(t, "a Redis Cluster started from redis-server", "install redis-server (apt-get install redis-server)", clusterErr)
	}
	clusterOnce.Do(func() {
		clusterClient = redis.NewClusterClient(&redis.ClusterOptions{Addrs: cluster.Addrs()})
	})
	return clusterClient
}

func closeClients() {
	if singleClient != nil {
		singleClient.Close()
	}
	if clusterClient != nil {
		clusterClient.Close()
	}
}

// uniquePrefix returns a prefix no other test uses.
func uniquePrefix(name string) string {
	b := make([]byte, 6)
	rand.Read(b)
	return "test:" + name + ":" + hex.EncodeToString(b) + ":session:"
}

// newStore returns a store on client under a fresh prefix, whose keys are
// deleted when t ends.
func newStore(t testing.TB, client redis.UniversalClient, cfg Config) *RedisStore {
	t.Helper()
	if cfg.Prefix == "" {
		cfg.Prefix = uniquePrefix("st")
	}
	s, err := NewWithConfig(client, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dropKeys(t, s) })
	return s
}

// dropKeys deletes every key of s, on every master.
func dropKeys(t testing.TB, s *RedisStore) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nodes, err := s.masters(ctx)
	if err != nil {
		t.Errorf("cleanup: %v", err)
		return
	}
	for _, n := range nodes {
		prefixes := []string{s.prefix, s.tombPrefix}
		if s.idxPrefix != "" {
			prefixes = append(prefixes, s.idxPrefix)
		}
		for _, p := range prefixes {
			err := s.scanKeys(ctx, n, p, func(keys []string) error {
				pipe := n.Pipeline()
				for _, k := range keys {
					pipe.Del(ctx, k)
				}
				_, err := pipe.Exec(ctx)
				return err
			})
			if err != nil {
				t.Errorf("cleanup: %v", err)
			}
		}
	}
}

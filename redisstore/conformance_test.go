package redisstore

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionstore/sessionstore/storetest"
)

func conformance(t *testing.T, client func(t testing.TB) redis.UniversalClient) {
	storetest.RunWithOptions(t, func(t *testing.T, now func() time.Time) storetest.Store {
		return newStore(t, client(t), Config{Now: now})
	}, storetest.Options{
		WriteBehind: writeBehind,
		Indexed: func(t *testing.T, now func() time.Time) storetest.Store {
			return newStore(t, client(t), Config{Now: now, Owner: storetest.Owner})
		},
		Touching: func(t *testing.T, now func() time.Time) storetest.Store {
			return newStore(t, client(t), Config{Now: now, TouchWindow: storetest.TouchWindow})
		},
		TouchReplica: touchReplica,
	})
}

// touchReplica is another store on st's keys, with its own local view: a
// replica in another process.
func touchReplica(t *testing.T, st storetest.Store, now func() time.Time) storetest.Store {
	s := st.(*RedisStore)
	r, err := NewWithConfig(s.client, Config{Prefix: s.prefix, TombstonePrefix: s.tombPrefix, Now: now, TouchWindow: storetest.TouchWindow})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// writeBehind writes a session the way SCS's goredisstore does (the bare
// data, a TTL), ignoring tombstones: an old replica during a rolling
// upgrade.
func writeBehind(t *testing.T, st storetest.Store, token string, data []byte, expiry time.Time) {
	s := st.(*RedisStore)
	if err := s.client.Set(context.Background(), s.sessionKey(token), data, time.Until(expiry)).Err(); err != nil {
		t.Fatal(err)
	}
}

func TestConformanceSingle(t *testing.T) {
	conformance(t, func(t testing.TB) redis.UniversalClient { return single(t) })
}

func TestConformanceCluster(t *testing.T) {
	conformance(t, func(t testing.TB) redis.UniversalClient { return clusterC(t) })
}

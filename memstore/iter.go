package memstore

import (
	"context"
	"fmt"
	"iter"
	"runtime"
	"time"

	"github.com/sessionstore/sessionstore"
)

// All returns a copy of every live session's data, by token. The map is
// never nil. For a large store prefer Sessions, which does not hold every
// session in one map.
func (m *MemStore) All() (map[string][]byte, error) {
	return m.AllCtx(context.Background())
}

// AllCtx is All with a context, checked between shards.
func (m *MemStore) AllCtx(ctx context.Context) (map[string][]byte, error) {
	all := make(map[string][]byte)
	for s, err := range m.Sessions(ctx) {
		if err != nil {
			return nil, fmt.Errorf("memstore: all: %w", err)
		}
		all[s.Token] = s.Data
	}
	return all, nil
}

// Sessions yields every live session once, shard by shard; each shard is
// read under its read lock only while its live entries are listed, so
// Finds never wait and Commits wait for one shard's listing at most. A
// session committed or deleted during the iteration may or may not be seen.
// The yielded Data is the caller's to keep. The iteration stops with ctx's
// error if ctx is done.
func (m *MemStore) Sessions(ctx context.Context) iter.Seq2[sessionstore.Session, error] {
	return func(yield func(sessionstore.Session, error) bool) {
		var page []node
		for i := range m.shards {
			if err := ctx.Err(); err != nil {
				yield(sessionstore.Session{}, err)
				return
			}
			page = m.shards[i].liveItems(unixMicro(m.now()), page[:0])
			for _, e := range page {
				s := sessionstore.Session{Token: e.token, Data: []byte(e.data), Expiry: time.UnixMicro(e.expiry)}
				if !yield(s, nil) {
					return
				}
			}
		}
	}
}

// liveItems appends the shard's live sessions to page.
func (s *shard) liveItems(now int64, page []node) []node {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, i := range s.entries {
		if n := &s.nodes[i]; n.queue != qTomb && n.expiry > now {
			page = append(page, node{token: n.token, data: n.data, expiry: n.expiry})
		}
	}
	return page
}

// DeleteExpired removes every expired session, and every tombstone expired
// for longer than Config.ClockSkew, in batches of
// at most CleanupBatchSize entries per shard lock, and returns how many it
// removed. It takes the shards in turn, one batch each, so that no shard is
// locked again right after its batch. The background cleanup calls it; call
// it yourself if you built the store without cleanup.
func (m *MemStore) DeleteExpired(ctx context.Context) (int64, error) {
	var total int64
	pending := make([]int, numShards) // shards that may hold more
	for i := range pending {
		pending[i] = i
	}
	for len(pending) > 0 {
		next := pending[:0] // written behind the range's reads
		for _, i := range pending {
			if err := ctx.Err(); err != nil {
				return total, fmt.Errorf("memstore: delete expired: %w", err)
			}
			now := m.now()
			n, more := m.shards[i].deleteExpired(unixMicro(now), unixMicro(m.c.policy.Cutoff(now)), m.batch)
			total += int64(n)
			if more {
				next = append(next, i)
			}
			// A caller that slept on this shard's lock is woken onto this
			// goroutine's processor; yielding lets it run now, so that it
			// waits for one batch, not until the scheduler preempts
			// cleanup (up to its 10 ms time slice).
			runtime.Gosched()
		}
		pending = next
	}
	m.reportEvictions()
	return total, nil
}

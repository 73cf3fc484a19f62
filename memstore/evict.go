package memstore

import (
	"log/slog"
	"sync/atomic"
	"time"
)

// Eviction keeps the sessions that are used over those created once and
// never seen again, whatever their expiries, in the manner of S3-FIFO (Yang
// et al., "FIFO queues are all you need for cache eviction", SOSP 2023).
// Each shard keeps three queues, oldest first:
//
//   - small: new sessions, on probation. A session used again (a Find or a
//     Commit of its token) counts its uses; when it reaches the head of the
//     queue it moves to main, spending one, instead of being evicted.
//   - tombstones, in the order of their Deletes.
//   - main: sessions used again after they were created, swept as a CLOCK:
//     a session at the head that was used since it was queued goes back to
//     the tail with one use fewer (at most three count), one that was not
//     is evicted.
//
// The victim comes from small while small holds at least a tenth of the
// shard's entries (so that a new user's second request has time to come),
// then from the tombstones, oldest first, then from main. A flood of
// sessions that are never used again thus only ever evicts itself, and a
// flood of logouts evicts its own tombstones, while sessions in use stay. A
// flood whose sessions are each used again soon after they are created
// looks like users, and is kept like them, as long as its uses are fewer
// than the users' (see TestFloodReusedOnceKeepsActiveUsers).
// Tombstones go before used sessions because evicting one weakens only a
// logout against a request in flight at that logout and still running
// (bounded by the server's timeouts, far shorter than the tombstone
// lifetime, and the oldest tombstone is the one whose requests are most
// surely over), while evicting a used session signs out someone who is
// still there.
//
// Every step is O(1); an eviction moves at most maxEvictSteps nodes before
// it evicts the head of the queue it is at, used or not, so that one
// eviction holds the shard's lock for a bounded time.
const maxEvictSteps = 256

// evict evicts entries of the shard, never node keep, until the store is
// within its bounds or the shard has nothing left to evict.
func (s *shard) evict(keep uint32) {
	if !s.c.bounded() {
		return
	}
	for s.c.over() && s.evictOne(keep) {
	}
}

// evictOne evicts one entry other than node keep and reports whether it
// found one.
func (s *shard) evictOne(keep uint32) bool {
	small, main, tombs := &s.queues[qSmall], &s.queues[qMain], &s.queues[qTomb]
	for steps := 0; ; steps++ {
		smallOK := small.n > 1 || small.n == 1 && small.head != keep
		mainOK := main.n > 1 || main.n == 1 && main.head != keep
		var q uint8
		switch {
		case smallOK && (10*small.n >= small.n+main.n+tombs.n || tombs.n == 0 && !mainOK):
			q = qSmall
		case tombs.n > 0:
			s.remove(tombs.head)
			s.c.tombsEvicted.Add(1)
			return true
		case mainOK:
			q = qMain
		default:
			return false
		}
		i := s.queues[q].head
		n := &s.nodes[i]
		if i == keep {
			s.unlink(i)
			s.push(q, i)
			continue
		}
		f := atomic.LoadUint32(&n.freq)
		if f == 0 || steps >= maxEvictSteps {
			s.remove(i)
			return true
		}
		// Promoted to main, or sent round again: either spends one use.
		s.unlink(i)
		atomic.StoreUint32(&n.freq, min(f, 3)-1)
		s.push(qMain, i)
	}
}

// evictElsewhere evicts from the shards other than skip, in turn from a
// rotating start, until the store is within its bounds: when the shard a
// session was committed to has nothing else to evict.
func (m *MemStore) evictElsewhere(skip *shard) {
	start := int(m.cursor.Add(1))
	for k := range numShards {
		if !m.c.over() {
			return
		}
		s := &m.shards[(start+k)%numShards]
		if s == skip {
			continue
		}
		s.mu.Lock()
		s.evict(0)
		s.mu.Unlock()
	}
}

// reportInterval is the least time between two log lines about tombstones
// evicted early.
const reportInterval = time.Minute

// reportEvictions logs, at WARN, how many tombstones were evicted before
// their expiry since the last report: the first time it happens, and then at
// most once every reportInterval, so that a flood of logouts gives one line
// a minute, not one per eviction.
func (m *MemStore) reportEvictions() {
	if m.c.tombsEvicted.Load() == 0 {
		return
	}
	now := m.now().Unix()
	last := m.lastReport.Load()
	if last != 0 && now >= last && now-last < int64(reportInterval/time.Second) {
		return
	}
	if !m.lastReport.CompareAndSwap(last, now) {
		return // another caller reports
	}
	m.logger.Warn("memstore: tombstones evicted before their expiry to keep within the bounds; a request in flight at those logouts could bring their sessions back",
		slog.Int64("tombstones", m.c.tombsEvicted.Swap(0)),
		slog.Int64("max_sessions", m.c.maxCount),
		slog.Int64("max_bytes", m.c.maxBytes))
}

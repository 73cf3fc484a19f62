package memstore

import (
	"context"
	"time"
	"unsafe"

	"github.com/sessionstore/sessionstore"
	"github.com/sessionstore/sessionstore/internal/touch"
)

// coalesce reports whether a Commit of data under token, whose hash is h,
// until expiry, at now, may write nothing (Config.TouchWindow): token's
// session is live and not a tombstone, its stored expiry is within window
// below expiry (touch.Coalesce), it holds the same data (touch.Same) and,
// with the index on, ctx carries no client other than the one its index
// entry holds. A skip counts as a use of the session for eviction.
//
// The decision is taken on the session as it is under the read lock: the
// data compared after unlocking is that session's, since stored data is
// never written (see node.data). A skipped Commit is then one that ran at
// that moment and wrote what was already there, up to the expiry; a
// Delete or a Commit that came after it keeps its effect, as it would
// after a write.
func (s *shard) coalesce(ctx context.Context, token string, h uint64, data []byte, expiry, now time.Time, window time.Duration, indexed bool) bool {
	var client sessionstore.Client
	hasClient := false
	if indexed {
		client, hasClient = sessionstore.ClientFromContext(ctx)
	}
	check := s.check(token)
	var stored string
	s.mu.RLock()
	i, found := s.entries[h]
	if found {
		n := &s.nodes[i]
		found = n.check == check && n.queue != qTomb && n.expiry > unixMicro(now) &&
			touch.Coalesce(window, n.expiry, expiry, now)
		if found && hasClient {
			if e := s.metas[i]; e != nil && e.clientOf() != client {
				found = false // the new client is written to the index entry
			}
		}
		if found {
			stored = n.data
			if s.c.bounded() {
				n.used()
			}
		}
	}
	s.mu.RUnlock()
	// Read-only: Same neither writes nor keeps what it is given.
	return found && touch.Same(unsafe.Slice(unsafe.StringData(stored), len(stored)), data)
}

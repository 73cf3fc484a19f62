// Package touch decides when a store may skip a Commit: the coalesced
// touches of Config.TouchWindow.
//
// With an idle timeout, SCS commits every session a request loaded, even one
// the request only read, to move its expiry. A Commit may be skipped when it
// would change nothing but the expiry, and only by less than the window:
//
//   - its data is the same as what the store holds for the token, as this
//     process last read (Find) or wrote (Commit) it;
//   - its expiry is not earlier than that stored expiry, and later by less
//     than the window;
//   - the session has at least the window left to live (expiry - now).
//
// So a session's stored expiry is never later than the requested one and
// never earlier by the window or more; a change of data is always written;
// and a skipped Commit writes nothing, so it never brings back a session
// that was deleted (here or on another replica) since.
//
// "The same data" is decided on a 128-bit keyed hash (hash/maphash, seeded
// per process, so colliding data cannot be crafted) of a canonical form: for
// a stream of SCS's GobCodec whose values are of gob's predeclared types,
// the deadline and the entries sorted by key, since gob writes a map in
// random order; for anything else, the bytes themselves.
package touch

import (
	"bytes"
	"fmt"
	"hash/maphash"
	"slices"
	"sync"
	"time"

	"github.com/sessionstore/sessionstore/internal/scsgob"
)

// MaxEntries bounds the entries a View keeps, so that a flood of new
// sessions cannot grow it without bound: beyond it, arbitrary entries are
// forgotten, and their next Commit is written. About 150 bytes each.
const MaxEntries = 1 << 16

const shards = 64

// View is one store's local view: for each token, the digest of the data and
// the expiry it last read or wrote. A nil *View (TouchWindow 0) skips
// nothing and records nothing. It is safe for concurrent use.
type View struct {
	window time.Duration
	seeds  [2]maphash.Seed
	perMax int
	shards [shards]shard
}

type shard struct {
	mu sync.Mutex
	m  map[string]entry
}

type entry struct {
	sum    Sum
	expiry int64 // Unix microseconds: every store keeps expiry to the microsecond at most
}

// Sum is the digest of a session's data.
type Sum [2]uint64

// New returns the view of a window, or nil for 0; a negative window is an
// error: a typo should not silently turn coalescing off.
func New(window time.Duration) (*View, error) {
	switch {
	case window < 0:
		return nil, fmt.Errorf("TouchWindow %v is negative", window)
	case window == 0:
		return nil, nil
	}
	v := &View{window: window, seeds: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}, perMax: MaxEntries / shards}
	for i := range v.shards {
		v.shards[i].m = make(map[string]entry)
	}
	return v, nil
}

// Window returns the window, 0 for a nil view.
func (v *View) Window() time.Duration {
	if v == nil {
		return 0
	}
	return v.window
}

func (v *View) shard(token string) *shard {
	return &v.shards[maphash.String(v.seeds[0], token)%shards]
}

// Skip reports whether a Commit of data under token until expiry, at now,
// may write nothing. It never records: call Wrote after a Commit that wrote.
func (v *View) Skip(token string, data []byte, expiry, now time.Time) bool {
	if v == nil || expiry.Sub(now) < v.window {
		return false
	}
	sh := v.shard(token)
	sh.mu.Lock()
	e, ok := sh.m[token]
	sh.mu.Unlock()
	return ok && Coalesce(v.window, e.expiry, expiry, now) && v.Sum(data) == e.sum
}

// Coalesce is the rule on time of a skipped Commit, for a store that keeps
// its data itself and compares it with Same: it reports whether a Commit
// until expiry, at now, of the data the store holds until storedExpiry
// (Unix microseconds), may write nothing with the given window. It holds
// when expiry is not earlier than storedExpiry and later by less than the
// window, and the session has at least the window left to live (expiry -
// now); never for a window of 0 or less. A stored expiry it accepts is
// thus always after now: a skip never keeps a session that has expired.
func Coalesce(window time.Duration, storedExpiry int64, expiry, now time.Time) bool {
	if window <= 0 || expiry.Sub(now) < window {
		return false
	}
	ahead := expiry.UnixMicro() - storedExpiry
	return ahead >= 0 && ahead < window.Microseconds()
}

// Saw records that the store holds data under token until expiry: after a
// Find that returned it, or a Commit that wrote it.
func (v *View) Saw(token string, data []byte, expiry time.Time) {
	if v == nil {
		return
	}
	e := entry{sum: v.Sum(data), expiry: expiry.UnixMicro()}
	sh := v.shard(token)
	sh.mu.Lock()
	if _, ok := sh.m[token]; !ok && len(sh.m) >= v.perMax {
		for k := range sh.m { // an arbitrary entry: map order is random
			delete(sh.m, k)
			break
		}
	}
	sh.m[token] = e
	sh.mu.Unlock()
}

// SawData records that a Find returned data under token without its
// expiry (a store that cannot read it): the entry stays, with the expiry of
// this view's last record, only if it holds the same data; otherwise it is
// forgotten, so that a Commit of what the entry held, which would now be a
// change, is written.
func (v *View) SawData(token string, data []byte) {
	if v == nil {
		return
	}
	sh := v.shard(token)
	sh.mu.Lock()
	e, ok := sh.m[token]
	sh.mu.Unlock()
	if !ok || v.Sum(data) == e.sum {
		return
	}
	sh.mu.Lock()
	if cur, ok := sh.m[token]; ok && cur == e {
		delete(sh.m, token)
	}
	sh.mu.Unlock()
}

// Forget drops token's entry: after a Delete, a Find that found nothing, or
// a Commit whose outcome is unknown (an error).
func (v *View) Forget(token string) {
	if v == nil {
		return
	}
	sh := v.shard(token)
	sh.mu.Lock()
	delete(sh.m, token)
	sh.mu.Unlock()
}

// Len returns the number of entries, for tests.
func (v *View) Len() int {
	if v == nil {
		return 0
	}
	n := 0
	for i := range v.shards {
		sh := &v.shards[i]
		sh.mu.Lock()
		n += len(sh.m)
		sh.mu.Unlock()
	}
	return n
}

// Sum returns the digest of data's canonical form.
func (v *View) Sum(data []byte) Sum {
	var h [2]maphash.Hash
	h[0].SetSeed(v.seeds[0])
	h[1].SetSeed(v.seeds[1])
	write := func(b []byte) {
		var n [8]byte
		for i := range n {
			n[i] = byte(len(b) >> (8 * i))
		}
		for i := range h {
			h[i].Write(n[:])
			h[i].Write(b)
		}
	}
	if l, ok := scsgob.Own(); ok {
		var buf [16]scsgob.Entry
		es, deadline, ok := entries(l, data, buf[:0])
		if ok {
			write([]byte("scs-gob"))
			write(deadline)
			for _, e := range es {
				write(e.Raw)
			}
			return Sum{h[0].Sum64(), h[1].Sum64()}
		}
	}
	write([]byte("raw"))
	write(data)
	return Sum{h[0].Sum64(), h[1].Sum64()}
}

// Same reports whether a and b are the same session data in the sense of
// Sum (two streams of SCS's GobCodec with the same deadline and entries,
// in whatever order gob wrote them; otherwise the same bytes), without
// hashing: for a store that holds the data itself. It reads both streams'
// framing and compares bytes.
func Same(a, b []byte) bool {
	if bytes.Equal(a, b) {
		return true
	}
	l, ok := scsgob.Own()
	if !ok || len(a) != len(b) { // a reordering keeps the length
		return false
	}
	var bufA, bufB [16]scsgob.Entry
	ea, da, ok := walk(l, a, bufA[:0])
	if !ok {
		return false
	}
	eb, db, ok := walk(l, b, bufB[:0])
	if !ok || len(ea) != len(eb) || !bytes.Equal(da, db) {
		return false
	}
	// Sessions have a few keys: pairwise beats sorting. If a's keys are
	// distinct and each of a's entries is one of b's, b, of as many
	// entries, holds a's in another order.
	for i, x := range ea {
		for _, y := range ea[:i] {
			if bytes.Equal(x.Key, y.Key) {
				return false // see entries
			}
		}
		found := false
		for _, y := range eb {
			if bytes.Equal(x.Key, y.Key) {
				found = bytes.Equal(x.Raw, y.Raw)
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// walk appends the entries of data, a stream of l, to buf in stream order
// and returns them with the deadline's encoding.
func walk(l scsgob.Layout, data []byte, buf []scsgob.Entry) ([]scsgob.Entry, []byte, bool) {
	deadline, ok := l.Walk(data, func(e scsgob.Entry) bool {
		buf = append(buf, e)
		return true
	})
	return buf, deadline, ok
}

// entries appends the entries of data, a stream of l, to buf, sorted by
// key, and returns them with the deadline's encoding.
func entries(l scsgob.Layout, data []byte, buf []scsgob.Entry) ([]scsgob.Entry, []byte, bool) {
	buf, deadline, ok := walk(l, data, buf)
	if !ok {
		return nil, nil, false
	}
	slices.SortFunc(buf, func(a, b scsgob.Entry) int { return bytes.Compare(a.Key, b.Key) })
	for i := 1; i < len(buf); i++ {
		if bytes.Equal(buf[i-1].Key, buf[i].Key) {
			// Not what GobCodec writes: gob decodes the last of a key's
			// entries, so the order matters. Compare such data by its bytes.
			return nil, nil, false
		}
	}
	return buf, deadline, true
}

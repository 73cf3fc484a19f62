package memstore

import (
	"cmp"
	"slices"
)

// record says that the entry under key expires at expiry, or did when it
// was added.
type record[K comparable] struct {
	expiry int64 // Unix microseconds
	key    K
}

// bucketShift groups expiries (in microseconds) into buckets of 2^20 µs
// (about a second).
const bucketShift = 20

// bucket holds the records whose expiries fall in one slot, in no order
// unless sorted is set: then latest first, so the earliest is at the end.
type bucket[K comparable] struct {
	key     int64
	records []record[K]
	sorted  bool
}

// expiryIndex finds the records with the earliest expiries without
// scanning: records are grouped in buckets of about a second, and a small
// min-heap orders the buckets. Adding a record is O(1) when it lands in the
// newest bucket, as it does for a session committed with a fresh lifetime;
// taking the earliest record is O(1) within a bucket. Records are never
// moved or removed when a session changes: the index is lazy, and callers
// drop records that no longer match their session ("stale") when they
// reach them, or rebuild the index when stale records pile up.
type expiryIndex[K comparable] struct {
	buckets map[int64]*bucket[K]
	keys    []int64    // min-heap of the keys of buckets
	last    *bucket[K] // the bucket added to last: usually the next one too
	n       int        // records held, stale ones included
}

func (x *expiryIndex[K]) len() int { return x.n }

func (x *expiryIndex[K]) add(r record[K]) {
	k := r.expiry >> bucketShift
	b := x.last
	if b == nil || b.key != k {
		b = x.buckets[k]
		if b == nil {
			if x.buckets == nil {
				x.buckets = make(map[int64]*bucket[K])
			}
			b = &bucket[K]{key: k}
			x.buckets[k] = b
			x.pushKey(k)
		}
		x.last = b
	}
	if b.sorted && len(b.records) > 0 && r.expiry > b.records[len(b.records)-1].expiry {
		b.sorted = false
	}
	b.records = append(b.records, r)
	x.n++
}

// sortEarliest sorts the earliest bucket, latest expiry first, so that
// earliest returns its records in order. It reports false if the bucket was
// sorted already (or there is none): earliest is then exact.
func (x *expiryIndex[K]) sortEarliest() bool {
	if len(x.keys) == 0 {
		return false
	}
	b := x.buckets[x.keys[0]]
	if b.sorted {
		return false
	}
	slices.SortFunc(b.records, func(p, q record[K]) int { return cmp.Compare(q.expiry, p.expiry) })
	b.sorted = true
	return true
}

// earliest returns a record from the earliest bucket: within about a second
// of the earliest expiry in the index.
func (x *expiryIndex[K]) earliest() (record[K], bool) {
	for len(x.keys) > 0 {
		b := x.buckets[x.keys[0]]
		if len(b.records) > 0 {
			return b.records[len(b.records)-1], true
		}
		x.dropBucket(b)
	}
	return record[K]{}, false
}

// take removes the record earliest just returned.
func (x *expiryIndex[K]) take() {
	b := x.buckets[x.keys[0]]
	b.records[len(b.records)-1] = record[K]{}
	b.records = b.records[:len(b.records)-1]
	x.n--
	if len(b.records) == 0 {
		x.dropBucket(b)
	}
}

func (x *expiryIndex[K]) dropBucket(b *bucket[K]) {
	delete(x.buckets, b.key)
	if x.last == b {
		x.last = nil
	}
	// b is the heap's top: replace it with the last key and sift down.
	n := len(x.keys) - 1
	x.keys[0] = x.keys[n]
	x.keys = x.keys[:n]
	for i := 0; ; {
		l := 2*i + 1
		if l >= n {
			break
		}
		j := l
		if r := l + 1; r < n && x.keys[r] < x.keys[l] {
			j = r
		}
		if x.keys[j] >= x.keys[i] {
			break
		}
		x.keys[i], x.keys[j] = x.keys[j], x.keys[i]
		i = j
	}
}

func (x *expiryIndex[K]) pushKey(k int64) {
	x.keys = append(x.keys, k)
	for j := len(x.keys) - 1; j > 0; {
		i := (j - 1) / 2
		if x.keys[i] <= x.keys[j] {
			break
		}
		x.keys[i], x.keys[j] = x.keys[j], x.keys[i]
		j = i
	}
}

// reset empties the index, keeping nothing.
func (x *expiryIndex[K]) reset() {
	*x = expiryIndex[K]{}
}

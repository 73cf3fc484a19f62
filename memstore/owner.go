package memstore

import (
	"context"
	"fmt"
	"hash/maphash"
	"math/bits"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sessionstore/sessionstore"
)

var _ sessionstore.UserIndex = (*MemStore)(nil)

// The per-user index (Config.Owner) lives in the shards, beside the entries
// it indexes: each shard maps an owner to the list of its nodes that hold a
// session of that owner, and keeps, for each such node, its metadata. Both
// are written under the shard's lock in the same critical section as the
// session, and every path that removes a session or turns it into a
// tombstone (remove, tombstone) takes it out of its owner's list first, so
// no index entry outlives its session.
//
// A user's sessions are in the shards of their tokens. So that listing them
// is one lookup, not a visit to each of those shards, the store also keeps
// for each owner a record (ownerRec) of every entry of theirs, in every
// shard, and of the set of shards that hold a list of theirs (a bit a
// shard). The records are split in independently locked parts by a secret
// hash of the owner. A shard adds an entry to its owner's record when it
// adds it to its list, and takes it out when it takes it out of the list,
// under its own lock (shard, then part: never the other way round), so a
// record holds exactly the entries in the lists, and an entry deleted
// before a listing began is never listed. A listing reads the record under
// the part's lock only: the fields of an entry it reads are its ID and
// creation time, written before the entry enters a record, and the
// last-seen time, expiry and client, written under the shard's lock
// atomically. Commit touches a part only when a session gets an owner or
// loses it (new, signed in or out, deleted). Listing, counting and revoking
// a user's sessions thus cost O(the user's sessions), however many sessions
// the store holds.

// ownedBytes is what an owned session's index entry counts against
// MaxBytes besides its owner and client (clientBytes): its metadata with
// its ID, the pointers to it, its places in the owner's list and record
// and, when it is the owner's only session, that list and the owner's
// record. Sized for that worst case, every session of its own owner: the
// heap the index adds to such a session with a 70-byte user agent was 440
// to 456 bytes (TestIndexHeapCounted, 2026-12-03), against the 509 this
// counts. Two sessions an owner without a client add 278
// (BenchmarkHeapPerOwnedSession) and count 395.
const ownedBytes = 384

// ownerShards maps each owner to the record of their entries.
type ownerShards struct {
	seed  maphash.Seed
	parts [numShards]ownerPart
}

type ownerPart struct {
	mu   sync.Mutex
	recs map[string]*ownerRec
}

// ownerRec is one owner's index entries, in every shard.
type ownerRec struct {
	shards uint64       // a bit for each shard that holds a list of the owner
	metas  []*entryMeta // in no order; entryMeta.recPos is the place
}

// The shard sets are 64-bit masks.
var _ [64 - numShards]struct{}

func newOwnerShards() *ownerShards {
	o := &ownerShards{seed: maphash.MakeSeed()}
	for i := range o.parts {
		o.parts[i].recs = make(map[string]*ownerRec)
	}
	return o
}

func (o *ownerShards) part(owner string) *ownerPart {
	return &o.parts[maphash.String(o.seed, owner)>>(64-shardBits)]
}

// add records e, an entry of owner (a string the shard keeps) in shard.
func (o *ownerShards) add(owner string, shard uint8, e *entryMeta) {
	p := o.part(owner)
	p.mu.Lock()
	r := p.recs[owner]
	if r == nil {
		r = &ownerRec{}
		p.recs[owner] = r
	}
	r.shards |= 1 << shard
	e.recPos = len(r.metas)
	r.metas = append(r.metas, e)
	p.mu.Unlock()
}

// remove takes e, an entry of owner in shard, out of owner's record (see
// removeEntry); last reports that it was the shard's last entry of owner.
// An emptied record is dropped.
func (o *ownerShards) remove(owner string, shard uint8, e *entryMeta, last bool) {
	p := o.part(owner)
	p.mu.Lock()
	r := p.recs[owner]
	r.metas = removeEntry(r.metas, e.recPos, func(e *entryMeta) *int { return &e.recPos })
	if last {
		r.shards &^= 1 << shard
	}
	if len(r.metas) == 0 {
		delete(p.recs, owner)
	}
	p.mu.Unlock()
}

// removeEntry removes metas[at] in O(1), moving the last entry into its
// place (pos gives the field that holds an entry's place), and returns the
// shortened slice, shrunk when at a quarter of its capacity, so that it
// holds no more memory than its entries need, whatever it held before.
func removeEntry(metas []*entryMeta, at int, pos func(*entryMeta) *int) []*entryMeta {
	end := len(metas) - 1
	moved := metas[end]
	metas[at] = moved
	*pos(moved) = at
	metas[end] = nil
	metas = metas[:end]
	if cap(metas) > 64 && 4*end < cap(metas) {
		metas = slices.Clip(slices.Clone(metas))
	}
	return metas
}

// of returns the shards that hold a list of owner.
func (o *ownerShards) of(owner string) uint64 {
	p := o.part(owner)
	p.mu.Lock()
	defer p.mu.Unlock()
	if r := p.recs[owner]; r != nil {
		return r.shards
	}
	return 0
}

// list returns owner's sessions live at now, in no order.
func (o *ownerShards) list(owner string, now int64) []sessionstore.UserSession {
	p := o.part(owner)
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.recs[owner]
	if r == nil {
		return []sessionstore.UserSession{}
	}
	out := make([]sessionstore.UserSession, 0, len(r.metas))
	for _, e := range r.metas {
		exp := e.expiry.Load()
		if exp <= now {
			continue
		}
		c := e.clientOf()
		out = append(out, sessionstore.UserSession{
			ID:        e.id,
			Created:   time.UnixMicro(e.created),
			LastSeen:  time.UnixMicro(e.lastSeen.Load()),
			Expiry:    time.UnixMicro(exp),
			UserAgent: c.UserAgent,
			IP:        c.IP,
		})
	}
	return out
}

// count returns the number of owner's sessions live at now.
func (o *ownerShards) count(owner string, now int64) int {
	p := o.part(owner)
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.recs[owner]
	if r == nil {
		return 0
	}
	c := 0
	for _, e := range r.metas {
		if e.expiry.Load() > now {
			c++
		}
	}
	return c
}

// userShards calls f with each shard that holds a session of user.
func (m *MemStore) userShards(user string, f func(s *shard)) {
	for mask := m.c.owners.of(user); mask != 0; mask &= mask - 1 {
		f(&m.shards[bits.TrailingZeros64(mask)])
	}
}

// ownerList is one owner's sessions in a shard, in no order.
type ownerList struct {
	owner string // the shard's own copy
	metas []*entryMeta
}

// entryMeta is the index entry of an owned session. A renewal reads and
// writes the first fields only, and owner is list.owner, kept here so that
// it reads no other cache line. expiry is the node's, copied at each write
// of the entry (the node's expiry changes only in writes that write the
// entry too), so that a listing reads the entries of its list and no node.
//
// A listing reads lastSeen, expiry and client without the shard's lock
// (see ownerShards), hence the atomics; created and id are written only
// while the entry is in no record.
type entryMeta struct {
	owner    string
	lastSeen atomic.Int64                        // Unix microseconds, store clock
	expiry   atomic.Int64                        // the node's
	client   atomic.Pointer[sessionstore.Client] // nil for none
	list     *ownerList
	pos      int    // in list.metas
	node     uint32 // the session's node
	recPos   int    // in the owner's ownerRec.metas, under its part's lock
	created  int64
	id       string // sessionstore.SessionID of the token, computed once
}

// clientOf returns e's client, the zero Client for none.
func (e *entryMeta) clientOf() sessionstore.Client { return derefClient(e.client.Load()) }

// derefClient returns *c, the zero Client for nil.
func derefClient(c *sessionstore.Client) sessionstore.Client {
	if c != nil {
		return *c
	}
	return sessionstore.Client{}
}

func (e *entryMeta) size() int64 {
	return ownedBytes + int64(len(e.owner)) + clientBytes(e.client.Load())
}

// clientBytes is what the client c of an index entry counts against
// MaxBytes: its strings and the struct that holds them; nothing for none.
func clientBytes(c *sessionstore.Client) int64 {
	if c == nil {
		return 0
	}
	return clientStructBytes + int64(len(c.UserAgent)+len(c.IP))
}

// clientStructBytes is the heap of the sessionstore.Client an index entry
// points to, besides the strings.
const clientStructBytes = 32

// indexWrite is what an indexed Commit writes besides the session.
type indexWrite struct {
	owner     string // "" for none: the session is not indexed
	client    sessionstore.Client
	hasClient bool
	now       int64  // Unix microseconds
	id        string // sessionstore.SessionID of the token, if known
}

// sizeOf is what node i counts against MaxBytes, its index entry included.
func (s *shard) sizeOf(i uint32) int64 {
	size := s.nodes[i].size()
	if s.metas != nil && s.metas[i] != nil {
		size += s.metas[i].size()
	}
	return size
}

// metaSizeAfter is what node i's index entry will count once ix is written
// to it (0 without an owner), i == 0 for a new node.
func (s *shard) metaSizeAfter(i uint32, ix *indexWrite) int64 {
	if ix.owner == "" {
		return 0
	}
	// As index writes it: a new client only if it differs.
	var c *sessionstore.Client
	if i != 0 && s.metas[i] != nil {
		c = s.metas[i].client.Load() // kept
	}
	if ix.hasClient && ix.client != derefClient(c) {
		c = &ix.client
	}
	return ownedBytes + int64(len(ix.owner)) + clientBytes(c)
}

// index writes ix to the index entry of session node i, and returns by how
// many bytes its size changed. The owner, and with it Created, changes only
// if ix's differs; LastSeen is ix.now; the client is kept unless ix has one.
func (s *shard) index(i uint32, ix *indexWrite) int64 {
	e := s.metas[i]
	var before int64
	if e != nil {
		before = e.size()
	}
	if ix.owner == "" {
		s.unindex(i)
		return -before
	}
	if e == nil {
		e = &entryMeta{id: ix.id, node: i}
		if e.id == "" { // the session was replaced since Commit looked
			e.id = sessionstore.SessionID(s.nodes[i].token)
		}
		s.metas[i] = e
	}
	// A new owner's: out of the old owner's record first, and every field
	// a listing reads is written before the entry enters the new one, so
	// that a listing of either owner sees the other's Commit in no part
	// (never a creation time after the last-seen time, or the client of
	// the previous owner's last request).
	moving := e.list == nil || e.owner != ix.owner
	if moving && e.list != nil {
		s.unlist(i)
	}
	e.lastSeen.Store(ix.now)
	e.expiry.Store(s.nodes[i].expiry)
	if old := e.clientOf(); ix.hasClient && old != ix.client {
		// Copies, made only when the client changes: the store keeps no
		// string of the caller's.
		c := old
		if c.UserAgent != ix.client.UserAgent {
			c.UserAgent = strings.Clone(ix.client.UserAgent)
		}
		if c.IP != ix.client.IP {
			c.IP = strings.Clone(ix.client.IP)
		}
		e.client.Store(&c)
	}
	if moving {
		e.created = ix.now // in no record: no listing reads it
		s.enlist(i, ix.owner)
	}
	return e.size() - before
}

// enlist adds node i, whose entry has no list, to owner's list.
func (s *shard) enlist(i uint32, owner string) {
	l := s.owners[owner]
	if l == nil {
		l = &ownerList{owner: strings.Clone(owner)}
		s.owners[l.owner] = l
	}
	e := s.metas[i]
	e.owner, e.list, e.pos = l.owner, l, len(l.metas)
	l.metas = append(l.metas, e)
	s.c.owners.add(l.owner, s.id, e)
}

// unlist takes node i out of its owner's list and record (see removeEntry).
// An emptied list is dropped.
func (s *shard) unlist(i uint32) {
	e := s.metas[i]
	l := e.list
	l.metas = removeEntry(l.metas, e.pos, func(e *entryMeta) *int { return &e.pos })
	s.c.owners.remove(l.owner, s.id, e, len(l.metas) == 0)
	e.owner, e.list = "", nil
	if len(l.metas) == 0 {
		delete(s.owners, l.owner)
	}
}

// unindex removes the index entry of node i, if it has one.
func (s *shard) unindex(i uint32) {
	if s.metas == nil || s.metas[i] == nil {
		return
	}
	if s.metas[i].list != nil {
		s.unlist(i)
	}
	s.metas[i] = nil
}

// sameData reports whether token's session holds exactly data, and if so
// returns the stored copy and the owner indexed for it. The owner is a
// function of the data alone, so a Commit that only renews a session (SCS's
// idle timeout, whose data keeps the same deadline) needs no decode and no
// copy. The comparison runs outside the lock: stored data is never written.
// indexed reports whether the session had an index entry (and so its ID).
func (s *shard) sameData(token string, h uint64, data []byte) (stored, owner string, same, indexed bool) {
	check := s.check(token)
	s.mu.RLock()
	i, found := s.entries[h]
	if found {
		n := &s.nodes[i]
		if found = n.check == check && n.queue != qTomb; found {
			stored = n.data
			if e := s.metas[i]; e != nil {
				owner, indexed = e.owner, true
			}
		}
	}
	s.mu.RUnlock()
	if !found || stored != string(data) {
		return "", "", false, indexed
	}
	return stored, owner, true, indexed
}

// renewInLock is the largest data a renewal compares with the stored data
// under the shard's write lock, in the critical section that writes it
// (tens of nanoseconds); larger data is compared outside the lock first.
const renewInLock = 4 << 10

// renew is a Commit of exactly the data token's session holds: it writes
// the expiry and ix, with the session's owner, in one critical section, and
// reports true. If the session holds other data, or none, it writes
// nothing, reports false, and whether the session has an index entry.
func (s *shard) renew(token string, h uint64, data []byte, expiry int64, ix *indexWrite) (done, indexed bool, err error) {
	check := s.check(token)
	s.mu.Lock()
	defer s.mu.Unlock()
	i, found := s.entries[h]
	if !found {
		return false, false, nil
	}
	n := &s.nodes[i]
	if n.check != check || n.queue == qTomb {
		return false, false, nil
	}
	e := s.metas[i]
	if n.data != string(data) {
		return false, e != nil, nil
	}
	ix.owner = ""
	if e != nil {
		ix.owner = e.owner
	}
	return true, true, s.update(i, n.data, expiry, ix)
}

// commitIndexed is Commit with the index on: the owner is read from data
// before the shard is locked, and written with the session in one critical
// section.
func (m *MemStore) commitIndexed(ctx context.Context, token string, data []byte, expiry time.Time) error {
	s, h := m.shard(token)
	ix := &indexWrite{now: unixMicro(m.now())}
	ix.client, ix.hasClient = sessionstore.ClientFromContext(ctx)
	var stored, owner string
	var same, indexed bool
	if len(data) <= renewInLock {
		done, idx, err := s.renew(token, h, data, expiry.UnixMicro(), ix)
		if done {
			if err != nil {
				return fmt.Errorf("memstore: commit: %w", err)
			}
			m.afterWrite(s)
			return nil
		}
		indexed = idx
	} else {
		stored, owner, same, indexed = s.sameData(token, h, data)
	}
	if !same {
		var err error
		if owner, err = m.owner.Read(data); err != nil {
			return fmt.Errorf("memstore: commit: %w", err)
		}
		stored = string(data) // copied outside the lock
	}
	ix.owner = owner
	if owner != "" && !indexed {
		ix.id = sessionstore.SessionID(token) // hashed outside the lock
	}
	if err := s.commit(token, h, stored, expiry.UnixMicro(), m.now, ix); err != nil {
		return fmt.Errorf("memstore: commit: %w", err)
	}
	m.afterWrite(s)
	return nil
}

// ownedToken returns the token of user's session in s whose ID is id, if
// it is live at now.
func (s *shard) ownedToken(user, id string, now int64) (string, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	l := s.owners[user]
	if l == nil {
		return "", false
	}
	for _, e := range l.metas {
		if e.id == id && e.expiry.Load() > now {
			return s.nodes[e.node].token, true
		}
	}
	return "", false
}

// UserSessions returns the live sessions of user, most recently seen
// first. It reads the record of user's sessions, under the lock of its
// part only, so it costs the same whatever the number of other sessions in
// the store; a session committed or deleted while it runs may or may not be
// listed. With Config.Owner nil it returns an error matching
// sessionstore.ErrNoIndex.
func (m *MemStore) UserSessions(ctx context.Context, user string) ([]sessionstore.UserSession, error) {
	if m.owner == nil {
		return nil, fmt.Errorf("memstore: user sessions: %w", sessionstore.ErrNoIndex)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memstore: user sessions: %w", err)
	}
	list := m.c.owners.list(user, unixMicro(m.now()))
	slices.SortFunc(list, func(a, b sessionstore.UserSession) int {
		if c := b.LastSeen.Compare(a.LastSeen); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return list, nil
}

// CountUserSessions returns the number of live sessions of user, at the
// cost of UserSessions without its copies. With Config.Owner nil it returns
// an error matching sessionstore.ErrNoIndex.
func (m *MemStore) CountUserSessions(ctx context.Context, user string) (int, error) {
	if m.owner == nil {
		return 0, fmt.Errorf("memstore: count user sessions: %w", sessionstore.ErrNoIndex)
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("memstore: count user sessions: %w", err)
	}
	return m.c.owners.count(user, unixMicro(m.now())), nil
}

// testHookDeleteUserSession, if set by a test, runs between DeleteUserSession's
// finding the token and its deletion.
var testHookDeleteUserSession func(token string)

// idLen is the length of every sessionstore.SessionID.
var idLen = len(sessionstore.SessionID(""))

// DeleteUserSession deletes, as Delete does (leaving a tombstone), the live
// session of user whose UserSession.ID is id, and reports whether there was
// one. It checks under the shard's lock that the session still belongs to
// user, so a session that changed owner meanwhile is never deleted. It
// ignores ctx, as Delete does. With Config.Owner nil it returns an error
// matching sessionstore.ErrNoIndex.
func (m *MemStore) DeleteUserSession(_ context.Context, user, id string) (bool, error) {
	if m.owner == nil {
		return false, fmt.Errorf("memstore: delete user session: %w", sessionstore.ErrNoIndex)
	}
	if len(id) != idLen {
		return false, nil
	}
	now := unixMicro(m.now())
	for mask := m.c.owners.of(user); mask != 0; mask &= mask - 1 {
		tok, found := m.shards[bits.TrailingZeros64(mask)].ownedToken(user, id, now)
		if !found {
			continue
		}
		if testHookDeleteUserSession != nil {
			testHookDeleteUserSession(tok)
		}
		s, h := m.shard(tok)
		ok := s.deleteOwned(tok, h, user, m.now())
		m.afterWrite(s)
		return ok, nil
	}
	return false, nil
}

// deleteOwned is delete, only if token's session is user's and live at now.
func (s *shard) deleteOwned(token string, h uint64, user string, now time.Time) bool {
	check := s.check(token)
	s.mu.Lock()
	defer s.mu.Unlock()
	i, found := s.entries[h]
	if !found {
		return false
	}
	n := &s.nodes[i]
	e := s.metas[i]
	if n.check != check || n.queue == qTomb || e == nil || e.owner != user || n.expiry <= unixMicro(now) {
		return false
	}
	s.tombstone(i, now)
	s.evict(0)
	return true
}

// DeleteUserSessions deletes every session of user, as Delete does (leaving
// tombstones), and returns how many of them were live. See
// DeleteUserSessionsExcept.
func (m *MemStore) DeleteUserSessions(ctx context.Context, user string) (int, error) {
	return m.deleteUser(ctx, user, nil, "delete user sessions")
}

// DeleteUserSessionsExcept deletes every session of user but those of the
// tokens in keep, as Delete does (leaving tombstones), and returns how many
// of them were live; expired sessions of user are deleted too, uncounted.
// It ignores ctx, as Delete does: a revocation completes even if the
// request that asked for it has gone away. Each shard's sessions of user
// are deleted under its lock, at most Config.CleanupBatchSize at a time, so
// a Commit racing the call either comes before its session's deletion (and
// is deleted with it) or after (and is ignored, as after Delete). A session
// created for user while the call runs may survive it. With Config.Owner nil
// it returns an error matching sessionstore.ErrNoIndex.
func (m *MemStore) DeleteUserSessionsExcept(ctx context.Context, user string, keep ...string) (int, error) {
	return m.deleteUser(ctx, user, keep, "delete user sessions except")
}

func (m *MemStore) deleteUser(_ context.Context, user string, keep []string, op string) (int, error) {
	if m.owner == nil {
		return 0, fmt.Errorf("memstore: %s: %w", op, sessionstore.ErrNoIndex)
	}
	kept := func(tok string) bool { return slices.Contains(keep, tok) }
	if len(keep) > 8 {
		set := make(map[string]struct{}, len(keep))
		for _, k := range keep {
			set[k] = struct{}{}
		}
		kept = func(tok string) bool { _, ok := set[tok]; return ok }
	}
	total := 0
	m.userShards(user, func(s *shard) {
		for more := true; more; {
			var n int
			n, more = s.deleteOwner(user, kept, m.now(), m.batch)
			total += n
		}
		m.afterWrite(s)
	})
	return total, nil
}

// deleteOwner turns up to limit sessions of user in s, but those kept, into
// tombstones, and returns how many of them were live at now and whether
// there may be more.
func (s *shard) deleteOwner(user string, kept func(string) bool, now time.Time, limit int) (live int, more bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.owners[user]
	if l == nil {
		return 0, false
	}
	at := unixMicro(now)
	done := 0
	// From the end: tombstone moves the list's last node into the place it
	// empties, and every node after j is a kept one.
	j := len(l.metas) - 1
	for ; j >= 0 && done < limit; j-- {
		i := l.metas[j].node
		n := &s.nodes[i]
		if kept(n.token) {
			continue
		}
		if n.expiry > at {
			live++
		}
		s.tombstone(i, now)
		done++
	}
	s.evict(0)
	return live, j >= 0
}

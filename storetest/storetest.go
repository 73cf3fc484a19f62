// Package storetest is a conformance suite for SCS-style session stores.
//
// Any store with the methods of scs.Store can be checked with one call, the
// way fstest.TestFS checks a file system:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) storetest.Store {
//			return newTestStore(t) // fresh, empty store; cleanup via t.Cleanup
//		})
//	}
//
// Each promise of the store contract is a named subtest (Find/Expired,
// Commit/CopiesInput, Delete/NoResurrection, ...), so a failure names the
// broken promise. Optional capabilities are detected by interface assertion:
// context methods (CtxStore), SCS v1's Save (sessionstore.V1Store), All and AllCtx, the Sessions iterator,
// DeleteExpired and StopCleanup. Stores that accept an injected clock should
// use RunWithClock, which adds expiry tests that move time without sleeping.
//
// The suite cannot tell a store's goroutines from those of tests running
// beside it, so check for leaked goroutines in the store's package, after
// all its tests, with go.uber.org/goleak:
//
//	func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
package storetest

import (
	"context"
	"iter"
	"sync"
	"testing"
	"time"

	"github.com/sessionstore/sessionstore"
)

// Store is the method set of scs.Store.
type Store interface {
	Find(token string) (b []byte, found bool, err error)
	Commit(token string, b []byte, expiry time.Time) error
	Delete(token string) error
}

// CtxStore is the method set of scs.CtxStore beyond Store.
type CtxStore interface {
	FindCtx(ctx context.Context, token string) (b []byte, found bool, err error)
	CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error
	DeleteCtx(ctx context.Context, token string) error
}

// IterableStore is scs.IterableStore.
type IterableStore interface {
	All() (map[string][]byte, error)
}

// IterableCtxStore is scs.IterableCtxStore.
type IterableCtxStore interface {
	AllCtx(ctx context.Context) (map[string][]byte, error)
}

// SessionIterator is implemented by stores that stream their live sessions.
type SessionIterator interface {
	Sessions(ctx context.Context) iter.Seq2[sessionstore.Session, error]
}

// ExpiredDeleter is implemented by stores that export their cleanup.
type ExpiredDeleter interface {
	DeleteExpired(ctx context.Context) (int64, error)
}

// CleanupStopper is implemented by stores with a background cleanup loop.
type CleanupStopper interface {
	StopCleanup()
}

// Clock is a manual clock, safe for concurrent use. RunWithClock creates one
// per subtest, starting at the current wall-clock time truncated to the
// microsecond; other suites and tests may use one through NewClock.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock that reads start until it is moved.
func NewClock(start time.Time) *Clock { return &Clock{now: start} }

// Now returns the clock's current time. Pass it to the store as its clock.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward (or back, for negative d).
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

// suite is one run of the conformance tests.
type suite struct {
	// newStore returns a fresh store and, with RunWithClock, the clock it uses.
	newStore func(t *testing.T) (Store, *Clock)
	opts     Options
}

// Run runs the conformance suite. newStore must return a fresh, empty store
// each time it is called, and release it with t.Cleanup.
func Run(t *testing.T, newStore func(t *testing.T) Store) {
	t.Helper()
	s := suite{newStore: func(t *testing.T) (Store, *Clock) { return newStore(t), nil }}
	s.run(t)
}

// RunWithClock runs the conformance suite for a store whose clock can be
// injected: newStore must build a fresh, empty store that reads the time
// from now. The expiry tests then move the clock instead of sleeping.
func RunWithClock(t *testing.T, newStore func(t *testing.T, now func() time.Time) Store) {
	t.Helper()
	s := suite{newStore: func(t *testing.T) (Store, *Clock) {
		c := NewClock(time.Now().Truncate(time.Microsecond))
		return newStore(t, c.Now), c
	}}
	s.run(t)
}

func (s suite) run(t *testing.T) {
	t.Run("Find", s.testFind)
	t.Run("Commit", s.testCommit)
	t.Run("Delete", s.testDelete)
	t.Run("Tombstone", s.testTombstone)
	t.Run("Save", s.testSave)
	t.Run("Expiry", s.testExpiry)
	t.Run("Token", s.testToken)
	t.Run("Payload", s.testPayload)
	t.Run("All", s.testAll)
	t.Run("Sessions", s.testSessions)
	t.Run("Context", s.testContext)
	t.Run("Concurrency", s.testConcurrency)
	t.Run("DeleteExpired", s.testDeleteExpired)
	t.Run("StopCleanup", s.testStopCleanup)
	t.Run("Index", s.testIndex)
	t.Run("Touch", s.testTouch)
}

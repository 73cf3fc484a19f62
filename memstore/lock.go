package memstore

import (
	"runtime"
	"time"
)

// spinFor is how long a caller that finds its shard locked yields the
// processor and tries again before it sleeps on the lock: longer than a
// cleanup batch holds a shard, even on a busy machine.
//
// A goroutine that sleeps on a lock is woken onto the processor of the
// goroutine that unlocked it, where it waits until that goroutine stops or
// an idle processor takes it. Waking an idle processor takes an idle thread
// and, in a virtual machine, an idle virtual CPU that the hypervisor may not
// run for milliseconds; cleanup never stops between batches, so a Find that
// slept on a shard being cleaned waited up to the scheduler's 10 ms time
// slice (4–29 ms measured on the 2-core sandbox, against 0.5–2.4 ms for the
// same loop with no store). Yielding instead keeps the caller's processor
// busy, and cleanup moves to another shard after every batch, so the shard
// is free again within one batch. Measured there, in alternating runs, the
// longest Find during the cleanup of 500k sessions fell from 3.7–5.3 ms to
// 0.27–0.28 ms in two runs of three (5.7 ms in the third, when the no-store
// control also stalled), with no change in the single-call benchmarks.
const spinFor = time.Millisecond

// rlock read-locks s.
func (s *shard) rlock() {
	if !spinLocks {
		s.mu.RLock()
		return
	}
	if !s.mu.TryRLock() {
		spinThen(s.mu.TryRLock, s.mu.RLock)
	}
}

// lock locks s.
func (s *shard) lock() {
	if !spinLocks {
		s.mu.Lock()
		return
	}
	if !s.mu.TryLock() {
		spinThen(s.mu.TryLock, s.mu.Lock)
	}
}

// spinThen yields the processor and calls try again until it succeeds or
// spinFor has passed, then calls block.
func spinThen(try func() bool, block func()) {
	for start := time.Now(); time.Since(start) < spinFor; {
		runtime.Gosched()
		if try() {
			return
		}
	}
	block()
}

// spinLocks selects the spin-then-block locks (true) or plain locks with a
// yield after each cleanup batch (false). TEMPORARY: measurement only.
var spinLocks = true

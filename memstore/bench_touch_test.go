package memstore_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/sessionstore/sessionstore/memstore"
	"github.com/sessionstore/sessionstore/storetest"
)

// BenchmarkTouchPaired is the request on the store alone, without
// SCS around it: Find, then Commit of the session's data re-encoded by
// GobCodec (three keys, about 1 KiB, in whatever order gob wrote them),
// with a 30-minute idle timeout; one Commit in ten changes a value. It
// runs memstore with and without TouchWindow (a minute) in alternating
// blocks (see rotate) and reports touch/off.
func BenchmarkTouchPaired(b *testing.B) {
	const n = 10_000
	toks := make([]string, n)
	for i := range toks {
		toks[i] = fmt.Sprintf("touch-bench-%08d-xxxxxxxxxxxxxxxxxxxxxxxx", i)
	}
	deadline := time.Now().Add(24 * time.Hour)
	pad := strings.Repeat("p", 900)
	enc := func(csrf string) []byte {
		d, err := scs.GobCodec{}.Encode(deadline, map[string]any{"user_id": "user-1", "csrf": csrf, "prefs": pad})
		if err != nil {
			b.Fatal(err)
		}
		return d
	}
	// Encodings of the same values in different orders, as SCS's Commit
	// writes them on successive requests, and changed values.
	var same [][]byte
	for len(same) < 3 {
		d := enc("0123456789abcdef")
		if !containsBytes(same, d) {
			same = append(same, d)
		}
	}
	changed := [][]byte{enc("fedcba9876543210"), enc("00112233445566778899")}
	stores := make([]namedStore, 2)
	for k, w := range []time.Duration{0, time.Minute} {
		s := mustNew(b, memstore.Config{CleanupInterval: -1, TouchWindow: w})
		b.Cleanup(s.StopCleanup)
		exp := time.Now().Add(30 * time.Minute)
		for _, tok := range toks {
			if err := s.Commit(tok, same[0], exp); err != nil {
				b.Fatal(err)
			}
		}
		stores[k] = namedStore{[]string{"off", "touch"}[k], s}
	}
	op := func(s storetest.Store, _ string, i int) {
		tok := toks[(i*7919)%n]
		if _, ok, _ := s.Find(tok); !ok {
			b.Fatal("miss")
		}
		data := same[i%len(same)]
		if i%10 == 0 {
			data = changed[(i/10)%len(changed)]
		}
		if err := s.Commit(tok, data, time.Now().Add(30*time.Minute)); err != nil {
			b.Fatal(err)
		}
	}
	per := rotate(b, stores, op)
	b.ReportMetric(per[1]/per[0], "touch/off")
}

func containsBytes(list [][]byte, b []byte) bool {
	for _, x := range list {
		if bytes.Equal(x, b) {
			return true
		}
	}
	return false
}

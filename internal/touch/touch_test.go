package touch

import (
	"encoding/gob"
	"fmt"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
)

type point struct{ X, Y int }

func init() { gob.Register(point{}) }

func encode(t testing.TB, deadline time.Time, values map[string]any) []byte {
	t.Helper()
	b, err := scs.GobCodec{}.Encode(deadline, values)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSumIgnoresMapOrder: gob writes a map in random order, so a session of
// several keys encodes to different bytes each time; their sums must agree,
// and differ from any session with another value, key or deadline.
func TestSumIgnoresMapOrder(t *testing.T) {
	v, _ := New(time.Minute)
	deadline := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
	values := map[string]any{"user_id": "alice", "csrf": "x", "n": 3, "ok": true, "f": 1.5, "b": []byte{1, 2}}
	want := v.Sum(encode(t, deadline, values))
	orders := map[string]bool{}
	for range 200 {
		b := encode(t, deadline, values)
		orders[string(b)] = true
		if got := v.Sum(b); got != want {
			t.Fatalf("Sum differs for the same values in another order")
		}
	}
	if len(orders) < 2 {
		t.Fatalf("gob wrote one order in 200 encodings: the test proves nothing")
	}
	for name, other := range map[string][]byte{
		"value":    encode(t, deadline, map[string]any{"user_id": "bob", "csrf": "x", "n": 3, "ok": true, "f": 1.5, "b": []byte{1, 2}}),
		"type":     encode(t, deadline, map[string]any{"user_id": "alice", "csrf": "x", "n": int64(3), "ok": true, "f": 1.5, "b": []byte{1, 2}}),
		"key":      encode(t, deadline, map[string]any{"user_id": "alice", "csrf": "x", "m": 3, "ok": true, "f": 1.5, "b": []byte{1, 2}}),
		"missing":  encode(t, deadline, map[string]any{"user_id": "alice", "csrf": "x", "n": 3, "ok": true, "f": 1.5}),
		"deadline": encode(t, deadline.Add(time.Microsecond), values),
		"nil":      encode(t, deadline, map[string]any{"user_id": "alice", "csrf": nil, "n": 3, "ok": true, "f": 1.5, "b": []byte{1, 2}}),
	} {
		if v.Sum(other) == want {
			t.Errorf("a session with another %s has the same sum", name)
		}
	}
}

// TestSumOtherData: data that is not a plain GobCodec stream is compared as
// bytes.
func TestSumOtherData(t *testing.T) {
	v, _ := New(time.Minute)
	deadline := time.Now()
	custom := encode(t, deadline, map[string]any{"p": point{1, 2}, "q": "x"})
	if v.Sum(custom) != v.Sum(append([]byte(nil), custom...)) {
		t.Fatal("equal bytes, different sums")
	}
	if v.Sum(custom) == v.Sum(encode(t, deadline, map[string]any{"p": point{1, 3}, "q": "x"})) {
		t.Fatal("a registered type's changed value has the same sum")
	}
	for _, pair := range [][2]string{{"a", "b"}, {"", "x"}, {`{"a":1}`, `{"a":2}`}} {
		if v.Sum([]byte(pair[0])) == v.Sum([]byte(pair[1])) {
			t.Fatalf("%q and %q have the same sum", pair[0], pair[1])
		}
	}
	// A truncated or corrupted GobCodec stream is just bytes.
	b := encode(t, deadline, map[string]any{"a": "1", "b": "2"})
	for i := range b {
		if v.Sum(b[:i]) == v.Sum(b) {
			t.Fatalf("a prefix of %d bytes has the stream's sum", i)
		}
	}
}

func TestSkip(t *testing.T) {
	const window = time.Minute
	now := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
	data := []byte("data")
	tok := "token"
	cases := []struct {
		name   string
		stored time.Time // zero: no entry
		data   []byte
		expiry time.Time
		want   bool
	}{
		{"same data, later by less than the window", now.Add(30 * time.Minute), data, now.Add(30*time.Minute + 59*time.Second), true},
		{"same expiry", now.Add(30 * time.Minute), data, now.Add(30 * time.Minute), true},
		{"later by the window", now.Add(30 * time.Minute), data, now.Add(31 * time.Minute), false},
		{"earlier", now.Add(30 * time.Minute), data, now.Add(30*time.Minute - time.Microsecond), false},
		{"changed data", now.Add(30 * time.Minute), []byte("other"), now.Add(30*time.Minute + time.Second), false},
		{"no entry", time.Time{}, data, now.Add(30 * time.Minute), false},
		{"less than the window left", now.Add(30 * time.Second), data, now.Add(59 * time.Second), false},
		{"exactly the window left", now.Add(30 * time.Second), data, now.Add(time.Minute), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v, err := New(window)
			if err != nil {
				t.Fatal(err)
			}
			if !c.stored.IsZero() {
				v.Saw(tok, data, c.stored)
			}
			if got := v.Skip(tok, c.data, c.expiry, now); got != c.want {
				t.Fatalf("Skip = %v, want %v", got, c.want)
			}
			v.Forget(tok)
			if v.Skip(tok, c.data, c.expiry, now) {
				t.Fatal("Skip after Forget")
			}
		})
	}
}

func TestNew(t *testing.T) {
	if _, err := New(-time.Nanosecond); err == nil {
		t.Fatal("a negative window was accepted")
	}
	v, err := New(0)
	if err != nil || v != nil {
		t.Fatalf("New(0) = %v, %v; want nil, nil", v, err)
	}
	// A nil view skips nothing and records nothing.
	v.Saw("t", nil, time.Now())
	if v.Skip("t", nil, time.Now().Add(time.Hour), time.Now()) || v.Len() != 0 || v.Window() != 0 {
		t.Fatal("a nil view acted")
	}
}

// TestBounded: a flood of tokens never grows the view past MaxEntries.
func TestBounded(t *testing.T) {
	v, _ := New(time.Minute)
	exp := time.Now().Add(time.Hour)
	for i := range 3 * MaxEntries {
		v.Saw(fmt.Sprint("tok", i), []byte("x"), exp)
	}
	if n := v.Len(); n > MaxEntries {
		t.Fatalf("%d entries, want at most %d", n, MaxEntries)
	}
}

func BenchmarkSum(b *testing.B) {
	v, _ := New(time.Minute)
	pad := make([]byte, 900)
	data := encode(b, time.Now(), map[string]any{"user_id": "alice", "csrf": "0123456789abcdef", "pad": pad})
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		v.Sum(data)
	}
}

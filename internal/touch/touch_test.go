package touch

import (
	"bytes"
	"encoding/gob"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/sessionstore/sessionstore/internal/scsgob"
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
		if !Same(b, encode(t, deadline, values)) {
			t.Fatalf("Same: the same values in another order differ")
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
		if Same(other, encode(t, deadline, values)) {
			t.Errorf("Same: a session with another %s is the same", name)
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
	if !Same(custom, append([]byte(nil), custom...)) {
		t.Fatal("Same: equal bytes differ")
	}
	if Same(custom, encode(t, deadline, map[string]any{"p": point{1, 3}, "q": "x"})) {
		t.Fatal("Same: a registered type's changed value is the same")
	}
	for _, pair := range [][2]string{{"a", "b"}, {"", "x"}, {`{"a":1}`, `{"a":2}`}} {
		if v.Sum([]byte(pair[0])) == v.Sum([]byte(pair[1])) {
			t.Fatalf("%q and %q have the same sum", pair[0], pair[1])
		}
		if Same([]byte(pair[0]), []byte(pair[1])) {
			t.Fatalf("Same(%q, %q)", pair[0], pair[1])
		}
	}
	// A truncated or corrupted GobCodec stream is just bytes.
	b := encode(t, deadline, map[string]any{"a": "1", "b": "2"})
	for i := range b {
		if v.Sum(b[:i]) == v.Sum(b) {
			t.Fatalf("a prefix of %d bytes has the stream's sum", i)
		}
		if Same(b[:i], b) {
			t.Fatalf("Same: a prefix of %d bytes is the stream", i)
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
			if !c.stored.IsZero() {
				got := Coalesce(window, c.stored.UnixMicro(), c.expiry, now) && Same(c.data, data)
				if got != c.want {
					t.Fatalf("Coalesce and Same = %v, want %v", got, c.want)
				}
				if Coalesce(0, c.stored.UnixMicro(), c.expiry, now) {
					t.Fatal("Coalesce with a window of 0")
				}
			}
			v.Forget(tok)
			if v.Skip(tok, c.data, c.expiry, now) {
				t.Fatal("Skip after Forget")
			}
		})
	}
}

// TestSawData: a Find without the expiry keeps an entry of the same data
// and forgets one of other data.
func TestSawData(t *testing.T) {
	v, _ := New(time.Minute)
	now := time.Now()
	exp := now.Add(30 * time.Minute)
	v.Saw("t", []byte("a"), exp)
	v.SawData("t", []byte("a"))
	if !v.Skip("t", []byte("a"), exp.Add(time.Second), now) {
		t.Fatal("the same data was forgotten")
	}
	v.SawData("t", []byte("b"))
	if v.Skip("t", []byte("a"), exp.Add(time.Second), now) || v.Len() != 0 {
		t.Fatal("an entry of other data was kept")
	}
	v.SawData("u", []byte("a"))
	if v.Len() != 0 {
		t.Fatal("SawData made an entry")
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

// TestDuplicateKeys: a stream with a key twice is not GobCodec's (gob
// decodes the last one), so that neither Same nor Sum may take it for
// another stream of the same entries, or of the same first entries.
func TestDuplicateKeys(t *testing.T) {
	v, _ := New(time.Minute)
	deadline := time.Now()
	l, _ := scsgob.Own()
	// dup returns GobCodec's stream of {ka: a, kb: b} written in that
	// order, with kb renamed ka: two entries of ka, the second decoded.
	dup := func(a, b string) []byte {
		for {
			s := encode(t, deadline, map[string]any{"ka": a, "kb": b})
			var first string
			l.Walk(s, func(e scsgob.Entry) bool { first = string(e.Key); return false })
			if first == "ka" {
				return bytes.Replace(s, []byte("\x02kb"), []byte("\x02ka"), 1)
			}
		}
	}
	x, y := dup("1", "1"), dup("1", "2") // decoded: ka is 1; ka is 2
	if Same(x, y) || Same(y, x) || v.Sum(x) == v.Sum(y) {
		t.Fatal("streams of a duplicated key are the same whatever the second value")
	}
	// The same entries swapped: they decode differently.
	var raws [][]byte
	if _, ok := l.Walk(y, func(e scsgob.Entry) bool { raws = append(raws, e.Raw); return true }); !ok || len(raws) != 2 {
		t.Fatalf("%v, %d entries", ok, len(raws))
	}
	at := len(y) - cap(raws[0]) // raws[0] is y's bytes from there on
	swapped := slices.Concat(y[:at], raws[1], raws[0], y[at+len(raws[0])+len(raws[1]):])
	if bytes.Equal(y, swapped) {
		t.Fatal("the swap changed nothing")
	}
	if Same(y, swapped) || v.Sum(y) == v.Sum(swapped) {
		t.Fatal("two streams of a duplicated key in another order are the same")
	}
}

func BenchmarkSame(b *testing.B) {
	pad := make([]byte, 900)
	values := map[string]any{"user_id": "alice", "csrf": "0123456789abcdef", "pad": pad}
	deadline := time.Now()
	x := encode(b, deadline, values)
	var y []byte
	for y = encode(b, deadline, values); bytes.Equal(x, y); y = encode(b, deadline, values) {
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(x)))
	for b.Loop() {
		if !Same(x, y) {
			b.Fatal("not the same")
		}
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

package sessionstore

import (
	"encoding/gob"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
)

type gobPoint struct{ X, Y int }

func init() {
	gob.Register(gobPoint{})
	gob.Register(map[string]any{})
	gob.Register(time.Time{})
}

// fullOwner is OwnerKey without the fast path: the codec's own decode.
func fullOwner(data []byte, key string) (string, error) {
	_, values, err := scs.GobCodec{}.Decode(data)
	if err != nil {
		return "", err
	}
	return OwnerValue(values[key], key)
}

// randomValues returns session values of the kinds applications keep.
func randomValues(r *rand.Rand) map[string]any {
	values := map[string]any{}
	for range r.IntN(8) {
		k := []string{"user_id", "theme", "cart", "csrf", "flash", "signedIn", "user_id2", "", "\xff"}[r.IntN(9)]
		switch r.IntN(9) {
		case 0:
			values[k] = strings.Repeat("v", r.IntN(300))
		case 1:
			values[k] = r.IntN(1 << 20)
		case 2:
			values[k] = time.Unix(r.Int64N(1<<33), 0)
		case 3:
			values[k] = []byte("bytes")
		case 4:
			values[k] = nil
		case 5:
			values[k] = gobPoint{r.IntN(10), 2}
		case 6:
			values[k] = map[string]any{"nested": "user_id"}
		case 7:
			values[k] = true
		case 8:
			values[k] = 3.5
		}
	}
	switch r.IntN(4) {
	case 0: // no owner
	case 1:
		values["user_id"] = "alice"
	case 2:
		values["user_id"] = strings.Repeat("é", r.IntN(200)) // lengths over 127 take several bytes
	case 3:
		values["user_id"] = 42
	}
	return values
}

// TestGobOwnerAgrees: the fast path gives the same owner, or the same
// error, as decoding the session, on sessions of every shape; and it
// answers, without the fallback, for the usual ones.
func TestGobOwnerAgrees(t *testing.T) {
	fast := fastGobOwner(scs.GobCodec{})
	if fast == nil {
		t.Fatal("no fast path for scs.GobCodec")
	}
	owner := OwnerKey(scs.GobCodec{}, "user_id")
	r := rand.New(rand.NewPCG(1, 2))
	answered := 0
	for i := range 5000 {
		values := randomValues(r)
		deadline := time.Time{}
		if i%3 != 0 {
			deadline = time.Unix(r.Int64N(1<<34), r.Int64N(1e9))
		}
		data, err := scs.GobCodec{}.Encode(deadline, values)
		if err != nil {
			t.Fatal(err)
		}
		want, wantErr := fullOwner(data, "user_id")
		got, gotErr := owner(data)
		sameOwnerErr := !errors.Is(wantErr, ErrInvalidOwner) || errors.Is(gotErr, ErrInvalidOwner) && gotErr.Error() == wantErr.Error()
		if got != want || (wantErr == nil) != (gotErr == nil) || !sameOwnerErr {
			t.Fatalf("values %v: OwnerKey = %q, %v; decoding gives %q, %v", values, got, gotErr, want, wantErr)
		}
		if _, _, ok := fast.owner(data, "user_id"); ok {
			answered++
		}
	}
	if answered < 1000 {
		t.Errorf("the fast path answered %d of 5000 sessions", answered)
	}
	// The usual sessions are answered without decoding.
	for _, values := range []map[string]any{{}, {"user_id": "alice"}, {"user_id": "alice", "csrf": "x", "count": 3}, {"theme": "dark"}} {
		data, _ := scs.GobCodec{}.Encode(time.Now(), values)
		if _, _, ok := fast.owner(data, "user_id"); !ok {
			t.Errorf("values %v: the fast path did not answer", values)
		}
	}
}

// FuzzGobOwner: on any bytes, the fast path never panics, and whenever it
// answers, decoding the data (if it decodes) gives the same owner.
func FuzzGobOwner(f *testing.F) {
	for _, values := range []map[string]any{{}, {"user_id": "alice"}, {"user_id": "bob", "n": 3, "t": time.Unix(5, 0)}} {
		data, _ := scs.GobCodec{}.Encode(time.Unix(100, 0), values)
		f.Add(data)
	}
	fast := fastGobOwner(scs.GobCodec{})
	f.Fuzz(func(t *testing.T, data []byte) {
		got, found, ok := fast.owner(data, "user_id")
		if !ok {
			return
		}
		_, values, err := scs.GobCodec{}.Decode(data)
		if err != nil {
			return // corrupt data the fast path did not need to read
		}
		want, has := values["user_id"].(string)
		if _, present := values["user_id"]; found != present || (has && got != want) {
			t.Fatalf("fast path: %q, found %v; decode: %v", got, found, values)
		}
	})
}

func BenchmarkOwnerKey(b *testing.B) {
	data, _ := scs.GobCodec{}.Encode(time.Now(), map[string]any{"user_id": "alice", "csrf": strings.Repeat("x", 43), "count": 3, "flash": "Welcome!"})
	b.Run("fast", func(b *testing.B) {
		owner := OwnerKey(scs.GobCodec{}, "user_id")
		b.ReportAllocs()
		for b.Loop() {
			if o, err := owner(data); err != nil || o != "alice" {
				b.Fatal(o, err)
			}
		}
	})
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if o, err := fullOwner(data, "user_id"); err != nil || o != "alice" {
				b.Fatal(o, err)
			}
		}
	})
}

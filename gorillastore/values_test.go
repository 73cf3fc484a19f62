package gorillastore

import (
	"bytes"
	"encoding/gob"
	"math"
	"reflect"
	"testing"
	"time"
)

type point struct{ X, Y int }

func init() { gob.Register(point{}) }

func TestValuesRoundTrip(t *testing.T) {
	tm := time.Date(2026, 11, 22, 23, 0, 0, 123456789, time.FixedZone("x", 3600))
	tests := []struct {
		name   string
		values map[any]any
		format byte
	}{
		{"Empty", map[any]any{}, formatCompact},
		{"Nil", nil, formatCompact},
		{"Compact", map[any]any{"s": "x", "i": -7, "i64": int64(1) << 62, "u": ^uint64(0), "t": true, "f": 0.25,
			"b": []byte{}, "time": tm, 3: "int key", true: false}, formatCompact},
		{"GobStruct", map[any]any{"p": point{1, 2}, "s": "x"}, formatGob},
		{"GobNestedSlice", map[any]any{"_flash": []any{"hi"}}, formatGob},
		{"GobInt32", map[any]any{"n": int32(5)}, formatGob},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := encodeValues(tt.values)
			if err != nil {
				t.Fatal(err)
			}
			if data[0] != tt.format {
				t.Errorf("format %d, want %d", data[0], tt.format)
			}
			got := map[any]any{}
			if err := decodeValues(got, data); err != nil {
				t.Fatal(err)
			}
			if tt.values == nil {
				tt.values = map[any]any{}
			}
			for k, v := range tt.values {
				if tv, ok := v.(time.Time); ok {
					if gt, ok := got[k].(time.Time); !ok || !gt.Equal(tv) {
						t.Errorf("%v: %v, want %v", k, got[k], v)
					}
					delete(got, k)
					delete(tt.values, k)
				}
			}
			if !reflect.DeepEqual(got, tt.values) {
				t.Errorf("decoded %#v, want %#v", got, tt.values)
			}
		})
	}
}

func TestValuesUnregisteredType(t *testing.T) {
	type unregistered struct{ A int }
	if _, err := encodeValues(map[any]any{"u": unregistered{1}}); err == nil {
		t.Error("a value of an unregistered type encoded")
	}
}

// FuzzDecodeValues checks that no stored data makes decodeValues panic, and
// that what decodes re-encodes to something that decodes to the same.
func FuzzDecodeValues(f *testing.F) {
	for _, v := range []map[any]any{{}, {"a": 1, "b": "x", "c": []byte("y")}, {"p": point{1, 2}}} {
		data, _ := encodeValues(v)
		f.Add(data)
	}
	f.Add([]byte{formatCompact, 1, tagBytes, 1, 'x', tagInt, 2})
	f.Add([]byte{formatCompact, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, data []byte) {
		values := map[any]any{}
		if err := decodeValues(values, data); err != nil {
			return
		}
		again, err := encodeValues(values)
		if err != nil {
			return // e.g. a NaN key; gob's own limits
		}
		if err := decodeValues(map[any]any{}, again); err != nil {
			t.Fatalf("re-encoded values do not decode: %v", err)
		}
	})
}

// TestValuesCanonical: the compact format writes the same values as the
// same bytes, whatever order the map yields them in, so that a store that
// compares data by its bytes (TouchWindow) sees an unchanged session as
// unchanged; values that differ still encode differently.
func TestValuesCanonical(t *testing.T) {
	values := map[any]any{"user_id": "alice", "csrf": "x", "n": 3, 7: true, "f": 1.5, "b": []byte{1}, int64(2): uint64(3),
		"t": time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC), math.NaN(): "a", "z": "z"}
	values[math.NaN()] = "b"
	want, err := encodeValues(values)
	if err != nil || want[0] != formatCompact {
		t.Fatalf("encodeValues: %v, %v; want the compact format", want, err)
	}
	for range 200 {
		// A fresh map of the same entries, filled in another order.
		again := make(map[any]any, len(values))
		for k, v := range values {
			again[k] = v
		}
		got, err := encodeValues(again)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("the same values encoded to other bytes: %v", err)
		}
	}
	values["csrf"] = "y"
	if other, _ := encodeValues(values); bytes.Equal(other, want) {
		t.Fatal("changed values encoded to the same bytes")
	}
	back := map[any]any{}
	if err := decodeValues(back, want); err != nil || len(back) != len(values) {
		t.Fatalf("decode: %v, %d values, want %d", err, len(back), len(values))
	}
}

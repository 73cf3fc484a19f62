package gorillastore

import (
	"bytes"
	"encoding/binary"
	"encoding/gob"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// Session values are stored server-side in one of two formats, told apart by
// the first byte:
//
//   - formatCompact: a small tagged binary format for maps whose keys and
//     values are all of the types gorilla applications use most (string, int,
//     int64, uint64, bool, float64, []byte, time.Time). It preserves the exact
//     dynamic type of every key and value, and decodes with a handful of
//     allocations where encoding/gob needs well over a hundred.
//   - formatGob: encoding/gob of the whole map, exactly what gorilla/sessions
//     stores do, for everything else (register custom types with gob.Register).
//
// The data is not signed or encrypted: it never leaves the server, so a key
// rotation never makes it undecodable.
const (
	formatCompact byte = 1
	formatGob     byte = 2
)

// Type tags of the compact format.
const (
	tagString byte = iota + 1
	tagInt
	tagInt64
	tagUint64
	tagBool
	tagFloat64
	tagBytes
	tagTime
)

var errCorrupt = errors.New("corrupt session data")

// encodeValues encodes a session's Values. The compact format is
// canonical: its entries are sorted by their encoding (key first), so that
// the same values encode to the same bytes whatever order the map yields
// them in, and a store comparing data by its bytes (Config.TouchWindow, or
// the TouchWindow of the store under the adapter) sees an unchanged session
// as unchanged. The gob format is not: gob writes a map in its iteration
// order.
func encodeValues(values map[any]any) ([]byte, error) {
	buf := make([]byte, 0, 64)
	buf = append(buf, formatCompact)
	buf = binary.AppendUvarint(buf, uint64(len(values)))
	head := len(buf)
	var spanBuf [8]entrySpan
	spans := spanBuf[:0]
	for k, v := range values {
		var ok bool
		e := entrySpan{start: len(buf)}
		if buf, ok = appendValue(buf, k); !ok {
			return encodeGob(values)
		}
		e.key = len(buf)
		if buf, ok = appendValue(buf, v); !ok {
			return encodeGob(values)
		}
		e.end = len(buf)
		spans = append(spans, e)
	}
	if len(spans) < 2 {
		return buf, nil
	}
	slices.SortFunc(spans, func(a, b entrySpan) int {
		// Distinct keys encode differently, but for NaN keys: then the
		// whole entry decides.
		if c := bytes.Compare(buf[a.start:a.key], buf[b.start:b.key]); c != 0 {
			return c
		}
		return bytes.Compare(buf[a.start:a.end], buf[b.start:b.end])
	})
	out := make([]byte, head, len(buf))
	copy(out, buf[:head])
	for _, e := range spans {
		out = append(out, buf[e.start:e.end]...)
	}
	return out, nil
}

// entrySpan is where one entry lies in an encoding: its key in
// [start, key), its value in [key, end).
type entrySpan struct{ start, key, end int }

func encodeGob(values map[any]any) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte(formatGob)
	if err := gob.NewEncoder(&buf).Encode(values); err != nil {
		return nil, fmt.Errorf("encode session values (register custom types with gob.Register): %w", err)
	}
	return buf.Bytes(), nil
}

// appendValue appends v in the compact format, or reports false if v has a
// type the compact format does not cover.
func appendValue(buf []byte, v any) ([]byte, bool) {
	switch v := v.(type) {
	case string:
		buf = append(buf, tagString)
		buf = binary.AppendUvarint(buf, uint64(len(v)))
		return append(buf, v...), true
	case int:
		return binary.AppendVarint(append(buf, tagInt), int64(v)), true
	case int64:
		return binary.AppendVarint(append(buf, tagInt64), v), true
	case uint64:
		return binary.AppendUvarint(append(buf, tagUint64), v), true
	case bool:
		b := byte(0)
		if v {
			b = 1
		}
		return append(buf, tagBool, b), true
	case float64:
		return binary.BigEndian.AppendUint64(append(buf, tagFloat64), math.Float64bits(v)), true
	case []byte:
		if v == nil {
			return buf, false // gob keeps the nil/empty distinction its own way
		}
		buf = append(buf, tagBytes)
		buf = binary.AppendUvarint(buf, uint64(len(v)))
		return append(buf, v...), true
	case time.Time:
		b, err := v.MarshalBinary()
		if err != nil {
			return buf, false
		}
		buf = append(buf, tagTime, byte(len(b)))
		return append(buf, b...), true
	}
	return buf, false
}

// decodeValues decodes data written by encodeValues into values, an empty
// map. On error values may hold part of the data. It never panics, on any
// input.
func decodeValues(values map[any]any, data []byte) error {
	if len(data) == 0 {
		return errCorrupt
	}
	switch data[0] {
	case formatCompact:
		return decodeCompact(values, data[1:])
	case formatGob:
		return decodeGob(values, data[1:])
	}
	return errCorrupt
}

// decodeGob is apart from decodeValues so that the compact path does not
// pay for the map pointer escaping to the heap.
func decodeGob(values map[any]any, data []byte) error {
	if err := gob.NewDecoder(bytes.NewReader(data)).Decode(&values); err != nil {
		return fmt.Errorf("decode session values: %w", err)
	}
	return nil
}

func decodeCompact(values map[any]any, data []byte) error {
	n, off := binary.Uvarint(data)
	// Every entry takes at least 4 bytes; a larger count is corrupt.
	if off <= 0 || n > uint64(len(data)/4) {
		return errCorrupt
	}
	// One string holds the bytes of every string key and value.
	str := string(data)
	for range n {
		var k, v any
		var ok bool
		if k, off, ok = readValue(data, str, off); !ok {
			return errCorrupt
		}
		if _, unhashable := k.([]byte); unhashable {
			return errCorrupt
		}
		if v, off, ok = readValue(data, str, off); !ok {
			return errCorrupt
		}
		values[k] = v
	}
	if off != len(data) {
		return errCorrupt
	}
	return nil
}

// readValue reads the tagged value at data[off:] (str is string(data)) and
// returns the offset after it.
func readValue(data []byte, str string, off int) (any, int, bool) {
	if off >= len(data) {
		return nil, 0, false
	}
	tag := data[off]
	off++
	rest := data[off:]
	switch tag {
	case tagString, tagBytes:
		n, w := binary.Uvarint(rest)
		if w <= 0 || n > uint64(len(rest)-w) {
			return nil, 0, false
		}
		start, end := off+w, off+w+int(n)
		if tag == tagString {
			return str[start:end], end, true
		}
		return bytes.Clone(data[start:end]), end, true
	case tagInt, tagInt64:
		x, w := binary.Varint(rest)
		if w <= 0 {
			return nil, 0, false
		}
		if tag == tagInt {
			if x != int64(int(x)) {
				return nil, 0, false
			}
			return int(x), off + w, true
		}
		return x, off + w, true
	case tagUint64:
		x, w := binary.Uvarint(rest)
		if w <= 0 {
			return nil, 0, false
		}
		return x, off + w, true
	case tagBool:
		if len(rest) < 1 || rest[0] > 1 {
			return nil, 0, false
		}
		return rest[0] == 1, off + 1, true
	case tagFloat64:
		if len(rest) < 8 {
			return nil, 0, false
		}
		return math.Float64frombits(binary.BigEndian.Uint64(rest)), off + 8, true
	case tagTime:
		if len(rest) < 1 || int(rest[0]) > len(rest)-1 {
			return nil, 0, false
		}
		n := int(rest[0])
		var t time.Time
		if err := t.UnmarshalBinary(rest[1 : 1+n]); err != nil {
			return nil, 0, false
		}
		return t, off + 1 + n, true
	}
	return nil, 0, false
}

package gorillastore

import (
	"bytes"
	"encoding/binary"
	"encoding/gob"
	"errors"
	"fmt"
	"math"
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

// encodeValues encodes a session's Values.
func encodeValues(values map[any]any) ([]byte, error) {
	buf := make([]byte, 0, 64)
	buf = append(buf, formatCompact)
	buf = binary.AppendUvarint(buf, uint64(len(values)))
	for k, v := range values {
		var ok bool
		if buf, ok = appendValue(buf, k); !ok {
			return encodeGob(values)
		}
		if buf, ok = appendValue(buf, v); !ok {
			return encodeGob(values)
		}
	}
	return buf, nil
}

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

// decodeValues decodes data written by encodeValues. It never panics, on any
// input.
func decodeValues(data []byte) (map[any]any, error) {
	if len(data) == 0 {
		return nil, errCorrupt
	}
	switch data[0] {
	case formatCompact:
		return decodeCompact(data[1:])
	case formatGob:
		values := make(map[any]any)
		if err := gob.NewDecoder(bytes.NewReader(data[1:])).Decode(&values); err != nil {
			return nil, fmt.Errorf("decode session values: %w", err)
		}
		return values, nil
	}
	return nil, errCorrupt
}

func decodeCompact(data []byte) (map[any]any, error) {
	n, w := binary.Uvarint(data)
	// Every entry takes at least 4 bytes; a count above that is corrupt and
	// must not size the map.
	if w <= 0 || n > uint64(len(data)/4) {
		return nil, errCorrupt
	}
	data = data[w:]
	values := make(map[any]any, n)
	for range n {
		var k, v any
		var ok bool
		if k, data, ok = readValue(data); !ok {
			return nil, errCorrupt
		}
		if _, unhashable := k.([]byte); unhashable {
			return nil, errCorrupt
		}
		if v, data, ok = readValue(data); !ok {
			return nil, errCorrupt
		}
		values[k] = v
	}
	if len(data) != 0 {
		return nil, errCorrupt
	}
	return values, nil
}

// readValue reads one tagged value and returns the rest of data.
func readValue(data []byte) (any, []byte, bool) {
	if len(data) == 0 {
		return nil, nil, false
	}
	tag, data := data[0], data[1:]
	switch tag {
	case tagString, tagBytes:
		n, w := binary.Uvarint(data)
		if w <= 0 || n > uint64(len(data)-w) {
			return nil, nil, false
		}
		b := data[w : w+int(n)]
		if tag == tagString {
			return string(b), data[w+int(n):], true
		}
		return bytes.Clone(b), data[w+int(n):], true
	case tagInt, tagInt64:
		x, w := binary.Varint(data)
		if w <= 0 {
			return nil, nil, false
		}
		if tag == tagInt {
			if x != int64(int(x)) {
				return nil, nil, false
			}
			return int(x), data[w:], true
		}
		return x, data[w:], true
	case tagUint64:
		x, w := binary.Uvarint(data)
		if w <= 0 {
			return nil, nil, false
		}
		return x, data[w:], true
	case tagBool:
		if len(data) < 1 || data[0] > 1 {
			return nil, nil, false
		}
		return data[0] == 1, data[1:], true
	case tagFloat64:
		if len(data) < 8 {
			return nil, nil, false
		}
		return math.Float64frombits(binary.BigEndian.Uint64(data)), data[8:], true
	case tagTime:
		if len(data) < 1 || int(data[0]) > len(data)-1 {
			return nil, nil, false
		}
		n := int(data[0])
		var t time.Time
		if err := t.UnmarshalBinary(data[1 : 1+n]); err != nil {
			return nil, nil, false
		}
		return t, data[1+n:], true
	}
	return nil, nil, false
}

// Package scsgob reads the gob streams that SCS's GobCodec writes (a
// struct{Deadline time.Time; Values map[string]any}) without decoding them:
// encoding/gob builds a new decoder, with its type engines, for every
// stream, about 200 allocations to read one session, as much time as a
// database round trip.
//
// It answers only when the answer is certain: the type definitions must be,
// byte for byte, the ones this process's encoder writes for that struct,
// every length must fit, and the stream must hold nothing else (a value of a
// registered type adds type definitions: such a stream is not read here).
// Anything else gives ok == false, and the caller falls back to the codec or
// to the raw bytes.
package scsgob

import (
	"bytes"
	"encoding/gob"
	"sync"
	"time"
)

// Layout is the fixed part of a GobCodec stream: the type definition
// messages, and the type id that starts the session's value message.
type Layout struct {
	Prefix []byte
	ID     []byte
}

// Split returns the layout of ref, a GobCodec stream of a session without
// values, or ok == false if ref is not one.
func Split(ref []byte) (Layout, bool) {
	r := Reader{B: ref}
	for {
		start := r.I
		msg, ok := r.Message()
		if !ok {
			return Layout{}, false
		}
		id := Reader{B: msg}
		n, ok := id.Int()
		if !ok {
			return Layout{}, false
		}
		if n > 0 { // a value message; negative ids define types
			return Layout{Prefix: ref[:start], ID: msg[:id.I]}, true
		}
	}
}

var (
	ownOnce   sync.Once
	ownLayout Layout
	ownOK     bool
)

// Own returns the layout this process's gob encoder writes for the struct
// SCS's GobCodec encodes. gob names an unnamed struct type by its fields and
// numbers types per process, so SCS's encoder writes the same bytes.
func Own() (Layout, bool) {
	ownOnce.Do(func() {
		aux := &struct {
			Deadline time.Time
			Values   map[string]interface{}
		}{Deadline: time.Unix(1, 0), Values: map[string]interface{}{}}
		var b bytes.Buffer
		if err := gob.NewEncoder(&b).Encode(&aux); err != nil {
			return
		}
		ownLayout, ownOK = Split(b.Bytes())
	})
	return ownLayout, ownOK
}

// Entry is one key of a session's Values, as gob wrote it.
type Entry struct {
	Key   []byte
	Name  []byte // the concrete type's registered name; empty for a nil value
	ID    int64  // the value's gob type id (one of gob's predeclared types)
	Value []byte // the value's encoding (nil for a nil value)
	Raw   []byte // the whole entry: key, name, type id and value
}

// Walk reads data, a stream of layout l, calling yield for each entry of
// Values in stream order until yield returns false. It returns the
// Deadline's encoding and ok == true if the whole stream was read (or yield
// stopped it) and has l's shape.
func (l Layout) Walk(data []byte, yield func(Entry) bool) (deadline []byte, ok bool) {
	if !bytes.HasPrefix(data, l.Prefix) {
		return nil, false
	}
	r := Reader{B: data, I: len(l.Prefix)}
	msg, ok := r.Message()
	if !ok || r.I != len(data) || !bytes.HasPrefix(msg, l.ID) {
		// More type definitions (for a value of a registered type), or
		// more than one value.
		return nil, false
	}
	m := Reader{B: msg, I: len(l.ID)}
	field := -1
	for {
		delta, ok := m.Uint()
		if !ok {
			return nil, false
		}
		if delta == 0 { // end of the struct
			return deadline, m.I == len(msg)
		}
		if delta > 2 {
			return nil, false
		}
		field += int(delta)
		switch field {
		case 0: // Deadline: a GobEncoder's bytes
			if deadline, ok = m.Bytes(); !ok {
				return nil, false
			}
		case 1: // Values: map[string]interface{}
			count, ok := m.Uint()
			if !ok || count > uint64(len(msg)) {
				return nil, false
			}
			for range count {
				start := m.I
				var e Entry
				if e.Key, ok = m.Bytes(); !ok {
					return nil, false
				}
				if e.Name, ok = m.Bytes(); !ok {
					return nil, false
				}
				if len(e.Name) > 0 {
					if e.ID, ok = m.Int(); !ok { // the concrete type's id
						return nil, false
					}
					if e.Value, ok = m.Bytes(); !ok || !predeclared(e.ID, e.Value) {
						return nil, false
					}
				}
				e.Raw = msg[start:m.I]
				if !yield(e) {
					return deadline, true
				}
			}
		default:
			return nil, false
		}
	}
}

// gob's predeclared type ids (encoding/gob's tBool to tComplex).
const (
	tBool    = 1
	tInt     = 2
	tUint    = 3
	tFloat   = 4
	tBytes   = 5
	tString  = 6
	tComplex = 7
)

// TString is the type id of a string value.
const TString = tString

// predeclared reports whether v is exactly the encoding of one value of the
// predeclared type id: gob's decoder ignores an interface value's byte count
// and reads the value itself, so a count that disagrees with the value would
// make this reader and the decoder see different entries.
func predeclared(id int64, v []byte) bool {
	r := Reader{B: v}
	if single, ok := r.Uint(); !ok || single != 0 {
		return false
	}
	var ok bool
	switch id {
	case tBool, tInt, tUint, tFloat:
		_, ok = r.Uint()
	case tBytes, tString:
		_, ok = r.Bytes()
	case tComplex:
		if _, ok = r.Uint(); ok {
			_, ok = r.Uint()
		}
	}
	return ok && r.I == len(v)
}

// Reader reads gob's unsigned and signed integers, and counted bytes, from
// B at I.
type Reader struct {
	B []byte
	I int
}

// Uint reads an unsigned integer.
func (r *Reader) Uint() (uint64, bool) {
	if r.I >= len(r.B) {
		return 0, false
	}
	c := r.B[r.I]
	r.I++
	if c < 0x80 {
		return uint64(c), true
	}
	n := -int(int8(c)) // the byte count, negated
	if n > 8 || r.I+n > len(r.B) {
		return 0, false
	}
	var x uint64
	for _, c := range r.B[r.I : r.I+n] {
		x = x<<8 | uint64(c)
	}
	r.I += n
	return x, true
}

// Int reads a signed integer.
func (r *Reader) Int() (int64, bool) {
	u, ok := r.Uint()
	if u&1 != 0 {
		return ^int64(u >> 1), ok
	}
	return int64(u >> 1), ok
}

// Bytes reads a count and that many bytes.
func (r *Reader) Bytes() ([]byte, bool) {
	n, ok := r.Uint()
	if !ok || n > uint64(len(r.B)-r.I) {
		return nil, false
	}
	b := r.B[r.I : r.I+int(n)]
	r.I += int(n)
	return b, true
}

// Message reads one counted gob message.
func (r *Reader) Message() ([]byte, bool) { return r.Bytes() }

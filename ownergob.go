package sessionstore

import (
	"bytes"
	"reflect"
	"sync"
	"time"
)

// gobOwner reads the string under a key of data written by SCS's GobCodec
// (a gob stream of struct{Deadline time.Time; Values map[string]any})
// without decoding the session: encoding/gob builds a new decoder, with its
// type engines, for every stream, about 200 allocations to read one value,
// as much time as a database round trip.
//
// It reads the stream the way gob defines it and answers only when the
// answer is certain: the type definitions must be, byte for byte, the ones
// this process's GobCodec writes, every length must fit, and the value under
// key must be a gob string. Anything else (another codec's data, a value of
// another type, a stream it does not expect) returns ok == false, and the
// caller decodes with the codec, which also gives the error.
type gobOwner struct {
	prefix []byte // the type definition messages GobCodec writes
	id     []byte // the encoded type id of the session struct's value message
}

// encoder is the encoding half of scs.Codec.
type encoder interface {
	Encode(deadline time.Time, values map[string]any) ([]byte, error)
}

var (
	gobOwnerOnce sync.Once
	gobOwnerRef  *gobOwner
)

// fastGobOwner returns the reader for codec if it is SCS's GobCodec, else
// nil.
func fastGobOwner(codec Codec) *gobOwner {
	t := reflect.TypeOf(codec)
	if t == nil || t.Name() != "GobCodec" || t.PkgPath() != "github.com/alexedwards/scs/v2" {
		return nil
	}
	enc, ok := codec.(encoder)
	if !ok {
		return nil
	}
	gobOwnerOnce.Do(func() {
		ref, err := enc.Encode(time.Unix(1, 0), map[string]any{})
		if err != nil {
			return
		}
		r := gobReader{b: ref}
		for {
			start := r.i
			msg, ok := r.message()
			if !ok {
				return
			}
			id := gobReader{b: msg}
			n, ok := id.int()
			if !ok {
				return
			}
			if n > 0 {
				gobOwnerRef = &gobOwner{prefix: ref[:start], id: msg[:id.i]}
				return
			}
		}
	})
	return gobOwnerRef
}

// owner returns the string under key (found == false if the session has no
// such key), or ok == false if it cannot tell for certain.
func (g *gobOwner) owner(data []byte, key string) (owner string, found, ok bool) {
	if !bytes.HasPrefix(data, g.prefix) {
		return "", false, false
	}
	r := gobReader{b: data, i: len(g.prefix)}
	msg, ok := r.message()
	if !ok || r.i != len(data) || !bytes.HasPrefix(msg, g.id) {
		// More type definitions (for a value of a registered type), or
		// more than one value: let the codec read it.
		return "", false, false
	}
	m := gobReader{b: msg, i: len(g.id)}
	field := -1
	for {
		delta, ok := m.uint()
		if !ok {
			return "", false, false
		}
		if delta == 0 { // end of the struct: no Values, or Values read
			return owner, found, m.i == len(msg)
		}
		if delta > 2 {
			return "", false, false
		}
		field += int(delta)
		switch field {
		case 0: // Deadline: a GobEncoder's bytes
			if _, ok := m.bytes(); !ok {
				return "", false, false
			}
		case 1: // Values: map[string]interface{}
			count, ok := m.uint()
			if !ok || count > uint64(len(msg)) {
				return "", false, false
			}
			for range count {
				k, ok := m.bytes()
				if !ok {
					return "", false, false
				}
				name, ok := m.bytes()
				if !ok {
					return "", false, false
				}
				if len(name) == 0 { // a nil interface value
					if string(k) == key {
						found = true
					}
					continue
				}
				if _, ok := m.int(); !ok { // the concrete type's id
					return "", false, false
				}
				val, ok := m.bytes()
				if !ok {
					return "", false, false
				}
				if string(k) != key {
					continue
				}
				if string(name) != "string" {
					return "", false, false // the codec's error names the type
				}
				v := gobReader{b: val}
				if single, ok := v.uint(); !ok || single != 0 {
					return "", false, false
				}
				s, ok := v.bytes()
				if !ok || v.i != len(val) {
					return "", false, false
				}
				owner, found = string(s), true
			}
		default:
			return "", false, false
		}
	}
}

// gobReader reads gob's unsigned and signed integers, and counted bytes.
type gobReader struct {
	b []byte
	i int
}

func (r *gobReader) uint() (uint64, bool) {
	if r.i >= len(r.b) {
		return 0, false
	}
	c := r.b[r.i]
	r.i++
	if c < 0x80 {
		return uint64(c), true
	}
	n := -int(int8(c)) // the byte count, negated
	if n > 8 || r.i+n > len(r.b) {
		return 0, false
	}
	var x uint64
	for _, c := range r.b[r.i : r.i+n] {
		x = x<<8 | uint64(c)
	}
	r.i += n
	return x, true
}

func (r *gobReader) int() (int64, bool) {
	u, ok := r.uint()
	if u&1 != 0 {
		return ^int64(u >> 1), ok
	}
	return int64(u >> 1), ok
}

// bytes reads a count and that many bytes.
func (r *gobReader) bytes() ([]byte, bool) {
	n, ok := r.uint()
	if !ok || n > uint64(len(r.b)-r.i) {
		return nil, false
	}
	b := r.b[r.i : r.i+int(n)]
	r.i += int(n)
	return b, true
}

// message reads one counted gob message.
func (r *gobReader) message() ([]byte, bool) { return r.bytes() }

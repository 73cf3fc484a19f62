package sessionstore

import (
	"reflect"
	"sync"
	"time"

	"github.com/sessionstore/sessionstore/internal/scsgob"
)

// gobOwner reads the string under a key of data written by SCS's GobCodec
// without decoding the session (see internal/scsgob). It answers only when
// the answer is certain: the value under key must be a gob string. Anything
// else (another codec's data, a value of another type, a stream it does not
// expect) returns ok == false, and the caller decodes with the codec, which
// also gives the error.
type gobOwner struct {
	layout scsgob.Layout
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
		if l, ok := scsgob.Split(ref); ok {
			gobOwnerRef = &gobOwner{layout: l}
		}
	})
	return gobOwnerRef
}

// owner returns the string under key (found == false if the session has no
// such key), or ok == false if it cannot tell for certain.
func (g *gobOwner) owner(data []byte, key string) (owner string, found, ok bool) {
	certain := true
	_, ok = g.layout.Walk(data, func(e scsgob.Entry) bool {
		if string(e.Key) != key {
			return true
		}
		if len(e.Name) == 0 { // a nil interface value
			found = true
			return true
		}
		if string(e.Name) != "string" || e.ID != scsgob.TString {
			certain = false // the codec's error names the type
			return false
		}
		v := scsgob.Reader{B: e.Value}
		if single, ok := v.Uint(); !ok || single != 0 {
			certain = false
			return false
		}
		s, ok := v.Bytes()
		if !ok || v.I != len(e.Value) {
			certain = false
			return false
		}
		owner, found = string(s), true
		return true
	})
	if !ok || !certain {
		return "", false, false
	}
	return owner, found, true
}

package gorillastore

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"hash"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/securecookie"
)

// cookieCodec is the securecookie.Codec of one key pair that a store makes
// for itself. Encode and Decode are securecookie's, with the raw ID bytes as
// the value (idSerializer), so the cookie format is exactly securecookie's. Get verifies cookies with verify instead, which does what
// securecookie.Decode does without its dozen allocations: the HMAC state
// comes from a pool instead of hmac.New on every call, and the base64 and
// MAC buffers live in that pooled state.
//
// A cookieCodec only changes through MaxAge, which sets both the
// securecookie codec and verify's limit, so the two never disagree. A
// caller who wants other securecookie settings (hash function, MinAge,
// MaxLength, serializer) assigns codecs of their own to the store's Codecs,
// which are then used through securecookie.DecodeMulti.
type cookieCodec struct {
	sc      *securecookie.SecureCookie
	hashKey []byte
	block   cipher.Block // nil: signed, not encrypted
	invalid bool         // no hash key, or an invalid block key: sc fails every call, so does verify
	maxAge  int64        // seconds; 0: no limit. Set before serving requests.
	macs    sync.Pool    // of *macState
}

var _ securecookie.Codec = (*cookieCodec)(nil)

// cookieMaxLength is securecookie's default limit on an encoded cookie, which
// the codecs keep.
const cookieMaxLength = 4096

// maxDecoded bounds the decoded cookie that verify handles: a timestamp, the
// ID (encrypted: with a 16-byte IV) in base64 and a SHA-256 MAC need under
// 160 bytes. A longer cookie cannot hold an ID of ours, signed by us.
const maxDecoded = 256

// macState is the per-call state of verify, pooled.
type macState struct {
	h   hash.Hash // HMAC-SHA256 with the codec's hash key
	msg []byte    // "name|date|value", grown to the longest cookie name
	enc [(maxDecoded + 2) / 3 * 4]byte
	dec [maxDecoded]byte
	val [maxDecoded]byte
	sum [sha256.Size]byte
}

// newCookieCodecs returns the codecs of keyPairs (hash key, block key, hash
// key, ...), valid for maxAge seconds, as securecookie.CodecsFromPairs would.
func newCookieCodecs(maxAge int, keyPairs ...[]byte) []securecookie.Codec {
	codecs := make([]securecookie.Codec, 0, (len(keyPairs)+1)/2)
	for i := 0; i < len(keyPairs); i += 2 {
		var blockKey []byte
		if i+1 < len(keyPairs) {
			blockKey = keyPairs[i+1]
		}
		// One copy of the hash key for both, so that a caller reusing the
		// slice changes neither.
		hashKey := bytes.Clone(keyPairs[i])
		c := &cookieCodec{sc: securecookie.New(hashKey, blockKey), hashKey: hashKey}
		c.sc.SetSerializer(idSerializer{})
		c.invalid = len(c.hashKey) == 0
		if blockKey != nil {
			// securecookie.New made the same cipher; with an invalid key, sc
			// fails every call, and so does verify.
			var err error
			if c.block, err = aes.NewCipher(blockKey); err != nil {
				c.invalid = true
			}
		}
		c.macs.New = func() any { return &macState{h: hmac.New(sha256.New, c.hashKey)} }
		c.setMaxAge(maxAge)
		codecs = append(codecs, c)
	}
	return codecs
}

// idSerializer is the securecookie.Serializer of the store's codecs. The
// cookie value is the session ID's bytes, as securecookie.NopEncoder keeps
// them, and the ID can be given and taken as a string or a []byte: so
// securecookie.EncodeMulti(name, session.ID, store.Codecs...) makes a cookie
// the store loads, and securecookie.DecodeMulti(name, value, &id,
// store.Codecs...) with id a string or a []byte reads the ID of a cookie the
// store wrote, as with antonlindstrom/pgstore. Every cookie the store wrote
// before it had this serializer has the same bytes and still loads.
type idSerializer struct{}

// errNotID is what the store's codecs return for a value that is neither a
// string nor a []byte, or a destination that is neither a *string nor a
// *[]byte.
var errNotID = errors.New("gorillastore: a session cookie holds a session ID: encode a string or []byte, decode into a *string or *[]byte")

// Serialize returns the bytes of a string or []byte.
func (idSerializer) Serialize(src any) ([]byte, error) {
	switch v := src.(type) {
	case []byte:
		return v, nil
	case string:
		return []byte(v), nil
	}
	return nil, errNotID
}

// Deserialize stores src in a *[]byte (without copying, as NopEncoder does)
// or a *string.
func (idSerializer) Deserialize(src []byte, dst any) error {
	switch d := dst.(type) {
	case *[]byte:
		*d = src
		return nil
	case *string:
		*d = string(src)
		return nil
	}
	return errNotID
}

// Encode is securecookie's Encode.
func (c *cookieCodec) Encode(name string, value interface{}) (string, error) {
	return c.sc.Encode(name, value)
}

// Decode is securecookie's Decode.
func (c *cookieCodec) Decode(name, value string, dst interface{}) error {
	return c.sc.Decode(name, value, dst)
}

func (c *cookieCodec) setMaxAge(age int) {
	age = max(age, 0)
	c.sc.MaxAge(age)
	c.maxAge = int64(age)
}

// verify checks the cookie value of cookie name as securecookie.Decode does
// and, if it is valid and holds a session ID, appends the ID to dst.
func (c *cookieCodec) verify(dst []byte, name, value string) ([]byte, bool) {
	if c.invalid || len(value) > cookieMaxLength || base64.URLEncoding.DecodedLen(len(value)) > maxDecoded {
		return dst, false
	}
	st := c.macs.Get().(*macState)
	defer c.macs.Put(st)

	// Decode from base64 and split into "date|value|mac".
	n := copy(st.enc[:], value)
	m, err := base64.URLEncoding.Decode(st.dec[:], st.enc[:n])
	if err != nil {
		return dst, false
	}
	b := st.dec[:m]
	i := bytes.IndexByte(b, '|')
	if i < 0 {
		return dst, false
	}
	j := bytes.IndexByte(b[i+1:], '|')
	if j < 0 {
		return dst, false
	}
	j += i + 1
	date, val, mac := b[:i], b[i+1:j], b[j+1:]

	// The MAC covers "name|date|value".
	st.msg = append(append(append(st.msg[:0], name...), '|'), b[:j]...)
	st.h.Reset()
	st.h.Write(st.msg)
	sum := st.h.Sum(st.sum[:0])
	if len(mac) != len(sum) || subtle.ConstantTimeCompare(mac, sum) != 1 {
		return dst, false
	}

	// The timestamp, against securecookie's clock (time.Now, in seconds).
	t, err := strconv.ParseInt(string(date), 10, 64)
	if err != nil {
		return dst, false
	}
	if c.maxAge != 0 && t < time.Now().Unix()-c.maxAge {
		return dst, false
	}

	// The value: base64, then (with a block key) IV and AES-CTR.
	m, err = base64.URLEncoding.Decode(st.val[:], val)
	if err != nil {
		return dst, false
	}
	id := st.val[:m]
	if c.block != nil {
		size := c.block.BlockSize()
		if len(id) <= size {
			return dst, false
		}
		iv := id[:size]
		id = id[size:]
		cipher.NewCTR(c.block, iv).XORKeyStream(id, id)
	}
	dst = append(dst, id...)
	clear(id) // no session ID left behind in the pool
	return dst, true
}

// ourCodecs reports whether every codec is a cookieCodec, which verify can
// check.
func ourCodecs(codecs []securecookie.Codec) bool {
	for _, c := range codecs {
		if _, ok := c.(*cookieCodec); !ok {
			return false
		}
	}
	return len(codecs) > 0
}

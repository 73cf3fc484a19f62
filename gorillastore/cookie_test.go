package gorillastore

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"testing"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/sessionstore/sessionstore/memstore"
)

var (
	hashKey2  = []byte("fedcba9876543210fedcba9876543210")
	blockKey1 = []byte("0123456789abcdef") // AES-128
)

// scDecode is what securecookie makes of a cookie: the ID, or ok == false.
func scDecode(c *cookieCodec, name, value string) ([]byte, bool) {
	var raw []byte
	if err := c.sc.Decode(name, value, &raw); err != nil {
		return nil, false
	}
	return raw, true
}

// signAt builds a cookie in securecookie's format by hand, signed with
// hashKey at Unix time ts: base64(date|base64(value)|mac), the MAC over
// name|date|base64(value).
func signAt(hashKey []byte, name string, ts int64, value []byte) string {
	b := []byte(strconv.FormatInt(ts, 10) + "|" + base64.URLEncoding.EncodeToString(value))
	h := hmac.New(sha256.New, hashKey)
	h.Write([]byte(name + "|"))
	h.Write(b)
	b = append(append(b, '|'), h.Sum(nil)...)
	return base64.URLEncoding.EncodeToString(b)
}

// TestCookieVerifyMatchesSecurecookie checks that verify accepts exactly the
// cookies securecookie.Decode accepts, with the same ID.
func TestCookieVerifyMatchesSecurecookie(t *testing.T) {
	id := []byte(newID())
	now := time.Now().Unix()
	signed := newCookieCodecs(3600, key1)[0].(*cookieCodec)
	encrypted := newCookieCodecs(3600, key1, blockKey1)[0].(*cookieCodec)
	badBlockKey := newCookieCodecs(3600, key1, []byte("not an AES key"))[0].(*cookieCodec)
	good, err := signed.Encode("sid", id)
	if err != nil {
		t.Fatal(err)
	}
	goodEnc, err := encrypted.Encode("sid", id)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		codec  *cookieCodec
		cookie string
		valid  bool
	}{
		{"Valid", signed, good, true},
		{"ValidEncrypted", encrypted, goodEnc, true},
		{"ByHand", signed, signAt(key1, "sid", now, id), true},
		{"OtherName", signed, signAt(key1, "other", now, id), false},
		{"OtherKey", signed, signAt(hashKey2, "sid", now, id), false},
		{"Expired", signed, signAt(key1, "sid", now-3700, id), false},
		{"JustInTime", signed, signAt(key1, "sid", now-3500, id), true},
		{"FutureIsFine", signed, signAt(key1, "sid", now+3600, id), true},
		// Same hash key, so the MAC holds; what comes out is not an ID,
		// which newSession checks (validID).
		{"EncryptedReadAsSigned", signed, goodEnc, true},
		{"SignedReadAsEncrypted", encrypted, good, true},
		{"InvalidBlockKey", badBlockKey, good, false},
		{"InvalidBlockKeyEncrypted", badBlockKey, goodEnc, false},
		{"ShortEncrypted", encrypted, signAt(key1, "sid", now, []byte("short")), false},
		{"PipeInValue", signed, signAt(key1, "sid", now, []byte("a|b")), true},
		{"BadDate", signed, base64.URLEncoding.EncodeToString([]byte("x|y|z")), false},
		{"NoPipes", signed, base64.URLEncoding.EncodeToString([]byte("xyz")), false},
		{"NotBase64", signed, "!!!!", false},
		{"Empty", signed, "", false},
		{"TooLong", signed, good + string(bytes.Repeat([]byte("A"), cookieMaxLength)), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, wantOK := scDecode(tt.codec, "sid", tt.cookie)
			got, ok := tt.codec.verify(nil, "sid", tt.cookie)
			if ok != tt.valid || wantOK != tt.valid {
				t.Fatalf("verify ok = %v, securecookie ok = %v, want %v", ok, wantOK, tt.valid)
			}
			if ok && !bytes.Equal(got, want) {
				t.Fatalf("verify = %q, securecookie = %q", got, want)
			}
		})
	}

	// Every bit flip of a valid cookie is refused by both.
	for i := range len(good) {
		for _, c := range []byte{'A', '-', '_', '='} {
			if good[i] == c {
				continue
			}
			tampered := good[:i] + string(c) + good[i+1:]
			_, wantOK := scDecode(signed, "sid", tampered)
			if _, ok := signed.verify(nil, "sid", tampered); ok != wantOK {
				t.Fatalf("byte %d = %q: verify ok = %v, securecookie ok = %v", i, c, ok, wantOK)
			}
		}
	}
}

// TestCookieMaxAge checks that MaxAge of the store reaches verify and
// securecookie alike.
func TestCookieMaxAge(t *testing.T) {
	s, err := New(newMemstore(t, memstore.Config{CleanupInterval: -1}), key1)
	if err != nil {
		t.Fatal(err)
	}
	c := s.Codecs[0].(*cookieCodec)
	old := signAt(key1, "sid", time.Now().Unix()-120, []byte(newID()))
	if _, ok := c.verify(nil, "sid", old); !ok {
		t.Fatal("two-minute-old cookie refused with the default MaxAge")
	}
	s.MaxAge(60)
	if _, ok := c.verify(nil, "sid", old); ok {
		t.Fatal("verify accepts a two-minute-old cookie after MaxAge(60)")
	}
	if _, ok := scDecode(c, "sid", old); ok {
		t.Fatal("securecookie accepts a two-minute-old cookie after MaxAge(60)")
	}
	s.MaxAge(0) // no limit, as in securecookie
	if _, ok := c.verify(nil, "sid", signAt(key1, "sid", 1, []byte(newID()))); !ok {
		t.Fatal("MaxAge(0) refuses an old cookie")
	}
}

// TestCookieForeignCodecs checks that codecs a caller assigns are used, through
// securecookie, for reading and writing.
func TestCookieForeignCodecs(t *testing.T) {
	s, err := New(newMemstore(t, memstore.Config{CleanupInterval: -1}), key1)
	if err != nil {
		t.Fatal(err)
	}
	sess, r := load(t, s, "sid")
	sess.Values["n"] = 1
	ours := save(t, s, r, sess)

	theirs := securecookie.CodecsFromPairs(hashKey2)
	theirs[0].(*securecookie.SecureCookie).SetSerializer(securecookie.NopEncoder{})
	s.Codecs = theirs
	if got, _ := load(t, s, "sid", ours); !got.IsNew {
		t.Fatal("a cookie of the old codecs is accepted by the new ones")
	}
	sess, r = load(t, s, "sid")
	sess.Values["n"] = 2
	c := save(t, s, r, sess)
	if got, _ := load(t, s, "sid", c); got.IsNew || got.Values["n"] != 2 {
		t.Fatalf("round trip through the caller's codecs: IsNew %v, n = %v", got.IsNew, got.Values["n"])
	}
	// Rotation: the caller's codec signs, the store's own still verifies.
	s.Codecs = append(theirs, newCookieCodecs(DefaultMaxAge, key1)...)
	if got, _ := load(t, s, "sid", ours); got.IsNew {
		t.Fatal("a cookie of the old key is refused after rotation")
	}
}

func TestCookieVerifyAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	c := newCookieCodecs(3600, key1, blockKey1)[0].(*cookieCodec)
	v, err := c.Encode("sid", []byte(newID()))
	if err != nil {
		t.Fatal(err)
	}
	var buf [idLen]byte
	if _, ok := c.verify(buf[:0], "sid", v); !ok {
		t.Fatal("valid cookie refused")
	}
	signed := newCookieCodecs(3600, key1)[0].(*cookieCodec)
	sv, err := signed.Encode("sid", []byte(newID()))
	if err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { signed.verify(buf[:0], "sid", sv) }); n != 0 {
		t.Errorf("verify of a signed cookie: %v allocations, want 0", n)
	}
}

// FuzzCookieVerify checks verify against securecookie on any cookie value.
func FuzzCookieVerify(f *testing.F) {
	signed := newCookieCodecs(3600, key1)[0].(*cookieCodec)
	encrypted := newCookieCodecs(3600, key1, blockKey1)[0].(*cookieCodec)
	id := []byte(newID())
	for _, c := range []*cookieCodec{signed, encrypted} {
		v, err := c.Encode("sid", id)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(v)
	}
	f.Add(signAt(key1, "sid", time.Now().Unix(), []byte("a|b|c")))
	f.Add("")
	f.Fuzz(func(t *testing.T, value string) {
		for _, c := range []*cookieCodec{signed, encrypted} {
			want, wantOK := scDecode(c, "sid", value)
			got, ok := c.verify(nil, "sid", value)
			if ok != wantOK || !bytes.Equal(got, want) {
				t.Fatalf("verify = %q, %v; securecookie = %q, %v", got, ok, want, wantOK)
			}
		}
	})
}

package redisstore

import (
	"strconv"
	"strings"
	"sync"
)

// Redis Cluster puts a key in one of 16384 hash slots: CRC16 of the key, or
// of its hash tag, the bytes between the first '{' and the first '}' after
// it when there is at least one. A session key is Prefix + token, exactly
// as SCS's goredisstore writes it, so its slot is whatever that rule gives
// for the whole key, braces in the token included. Its tombstone must be in
// the same slot, so that one script can check the tombstone and write the
// session: the tombstone key carries a hash tag of its own, chosen from a
// table of short tags (one per slot), followed by the token:
//
//	TombstonePrefix + "{" + tagOf[slot(Prefix+token)] + "}" + token
//
// TombstonePrefix holds no '{' (NewWithConfig checks), so the tag is the
// first brace pair of the key whatever the token holds, and the key is in
// the session's slot. Neither prefix is a prefix of the other, so no session
// key equals a tombstone key and a SCAN of one prefix never meets the other.

const numSlots = 16384

// keySlot is the hash slot of key by Redis Cluster's rule.
func keySlot(key string) int {
	if s := strings.IndexByte(key, '{'); s >= 0 {
		if e := strings.IndexByte(key[s+1:], '}'); e > 0 {
			key = key[s+1 : s+1+e]
		}
	}
	return int(crc16(key) & (numSlots - 1))
}

var (
	tagsOnce sync.Once
	slotTags [numSlots]string
)

// slotTag returns a short tag (digits and lower-case letters, never a
// brace) whose hash slot is slot. The table is built once, on first use,
// from the base-36 numerals in order: each slot gets the first numeral that
// hashes to it (at most four characters; about 200,000 CRCs, well under a
// millisecond).
func slotTag(slot int) string {
	tagsOnce.Do(func() {
		left := numSlots
		for n := int64(0); left > 0; n++ {
			tag := strconv.FormatInt(n, 36)
			if s := crc16(tag) & (numSlots - 1); slotTags[s] == "" {
				slotTags[s] = tag
				left--
			}
		}
	})
	return slotTags[slot]
}

// crc16 is CRC-16/XMODEM (polynomial 0x1021, initial value 0), the checksum
// Redis Cluster hashes keys with.
func crc16(s string) uint16 {
	var crc uint16
	for i := 0; i < len(s); i++ {
		crc = crc<<8 ^ crcTable[byte(crc>>8)^s[i]]
	}
	return crc
}

var crcTable = func() (t [256]uint16) {
	for i := range t {
		c := uint16(i) << 8
		for range 8 {
			if c&0x8000 != 0 {
				c = c<<1 ^ 0x1021
			} else {
				c <<= 1
			}
		}
		t[i] = c
	}
	return t
}()

// sessionKey is the key of token's session: Prefix + token, as SCS's
// goredisstore names it. It is only ever used as a key, never as a pattern.
func (s *RedisStore) sessionKey(token string) string { return s.prefix + token }

// tombstoneKey is the key of token's tombstone, in the slot of its session
// key (see above).
func (s *RedisStore) tombstoneKey(token string) string {
	tag := slotTag(keySlot(s.prefix + token))
	var b strings.Builder
	b.Grow(len(s.tombPrefix) + len(tag) + 2 + len(token))
	b.WriteString(s.tombPrefix)
	b.WriteByte('{')
	b.WriteString(tag)
	b.WriteByte('}')
	b.WriteString(token)
	return b.String()
}

// tokenOfTombstone returns the token of a tombstone key, or false if key is
// not one of this store's tombstone keys.
func (s *RedisStore) tokenOfTombstone(key string) (string, bool) {
	rest, ok := strings.CutPrefix(key, s.tombPrefix)
	if !ok || len(rest) < 3 || rest[0] != '{' {
		return "", false
	}
	e := strings.IndexByte(rest, '}')
	if e < 2 {
		return "", false
	}
	return rest[e+1:], true
}

// globEscape escapes the glob metacharacters of s, so that SCAN's MATCH
// pattern globEscape(prefix)+"*" matches exactly the keys that start with
// prefix.
func globEscape(s string) string {
	if !strings.ContainsAny(s, `*?[]\^`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '*', '?', '[', ']', '\\', '^':
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

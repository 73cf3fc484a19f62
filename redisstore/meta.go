package redisstore

import (
	"strconv"
	"strings"
	"time"
)

// The metadata of an indexed session, the value of its key under
// IndexPrefix (see index.go):
//
//	[0, 12)   the session value's header (magic, expiry), as last written
//	[12, 28)  last seen, µs since the Unix epoch by Config.Now, 16 digits
//	[28, 44)  created, the same way
//	[44, …)   the tombstone key's tag in its braces ("{" tag "}", the tag
//	          one to four digits or lower-case letters), then the owner,
//	          the user agent and the IP, each as its length in decimal, ':'
//	          and its bytes
//
// The fixed widths are what let the scripts keep the created time and the
// rest of a re-Commit with one string.sub, and find the tombstone key's
// "{tag}" with one string.match (Lua string operations cost a third to a
// half of a Redis call each on the machine of docs/redisstore.md).
const (
	metaSeenAt    = headerLen            // 12
	metaCreatedAt = metaSeenAt + usWidth // 28
	metaTagAt     = metaCreatedAt + usWidth
	usWidth       = 16
)

// metaMicros is t in the metadata's 16 digits, clamped to what they hold
// (the Unix epoch to the year 2286): a clock set outside that range gives a
// wrong time on the "your devices" page, never metadata the scripts cannot
// read.
func metaMicros(t time.Time) string {
	us := max(t.UnixMicro(), 0)
	us = min(us, 9_999_999_999_999_999)
	s := strconv.FormatInt(us, 10)
	return strings.Repeat("0", usWidth-len(s)) + s
}

// metaField is v as one of the metadata's length-prefixed fields. An
// owner's field is also how the scripts compare owners: the length makes
// a prefix match exact.
func metaField(v string) string { return strconv.Itoa(len(v)) + ":" + v }

// metaTail is the metadata from the tag on. tag is a slotTag, one to four
// characters.
func metaTail(tag, owner, ua, ip string) string {
	var b strings.Builder
	b.Grow(2 + len(tag) + 3*4 + len(owner) + len(ua) + len(ip))
	b.WriteByte('{')
	b.WriteString(tag)
	b.WriteByte('}')
	for _, v := range [...]string{owner, ua, ip} {
		b.WriteString(strconv.Itoa(len(v)))
		b.WriteByte(':')
		b.WriteString(v)
	}
	return b.String()
}

// sessionMeta is the metadata, decoded.
type sessionMeta struct {
	header        string
	seen, created time.Time
	tag, owner    string
	userAgent, ip string
}

// parseMeta decodes metadata; ok is false for any string not in the
// layout above, whatever its bytes.
func parseMeta(m string) (sm sessionMeta, ok bool) {
	if len(m) <= metaTagAt {
		return sm, false
	}
	seen, err1 := strconv.ParseInt(m[metaSeenAt:metaCreatedAt], 10, 64)
	created, err2 := strconv.ParseInt(m[metaCreatedAt:metaTagAt], 10, 64)
	n := strings.IndexByte(m[metaTagAt:], '}') - 1 // the tag's length
	if err1 != nil || err2 != nil || m[metaTagAt] != '{' || n < 1 || n > 4 || !isTag(m[metaTagAt+1:metaTagAt+1+n]) {
		return sm, false
	}
	sm.header = m[:headerLen]
	sm.seen = time.UnixMicro(seen).UTC()
	sm.created = time.UnixMicro(created).UTC()
	sm.tag = m[metaTagAt+1 : metaTagAt+1+n]
	rest := m[metaTagAt+2+n:]
	for _, dst := range [...]*string{&sm.owner, &sm.userAgent, &sm.ip} {
		c := strings.IndexByte(rest, ':')
		if c < 1 {
			return sm, false
		}
		l, err := strconv.Atoi(rest[:c])
		if err != nil || l < 0 || l > len(rest)-c-1 {
			return sm, false
		}
		*dst, rest = rest[c+1:c+1+l], rest[c+1+l:]
	}
	return sm, rest == ""
}

// isTag reports whether t is made of what slotTag's tags are (and Lua's
// %w matches): ASCII letters and digits.
func isTag(t string) bool {
	for i := 0; i < len(t); i++ {
		if c := t[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

package redisstore

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionstore/sessionstore"
)

// Defaults used where a Config field is left at its zero value.
const (
	// DefaultPrefix is SCS's goredisstore prefix, so that an application
	// switching from it keeps its sessions (see the package documentation).
	DefaultPrefix = "scs:session:"
	// DefaultTombstonePrefix is the tombstone prefix that goes with
	// DefaultPrefix.
	DefaultTombstonePrefix = "scs:tombstone:"
	// DefaultTimeout bounds the operations that cannot rely on the caller's
	// context: Delete (which ignores cancellation, so that a logout always
	// completes) and DeleteExpired's batches.
	DefaultTimeout = 10 * time.Second
	// DefaultPageSize is SCAN's COUNT hint and the number of keys Sessions,
	// All and DeleteExpired read per pipelined round trip.
	DefaultPageSize = 1000
)

// Config configures a store made with NewWithConfig. The zero value of every
// field means its default, so Config{} gives the same store as New.
type Config struct {
	// Prefix starts every session key: a session is stored at Prefix +
	// token. Default: DefaultPrefix ("scs:session:"), goredisstore's.
	Prefix string

	// TombstonePrefix starts every tombstone key. It must not contain '{'
	// (the tombstone key's hash tag must be the first brace pair), and
	// neither it nor Prefix may be a prefix of the other. Default:
	// "scs:tombstone:" with the default Prefix; otherwise Prefix with a
	// trailing "session:" replaced by "tombstone:", or "tombstone:" +
	// Prefix when it has no such suffix.
	TombstonePrefix string

	// Timeout, if positive, bounds every operation. Zero leaves Find, Commit
	// and iteration to the caller's context (and to the client's own read
	// and write timeouts) and bounds Delete and DeleteExpired's batches by
	// DefaultTimeout. go-redis applies a context's deadline to the socket
	// only with ContextTimeoutEnabled in its options; otherwise its
	// ReadTimeout and WriteTimeout bound each command.
	Timeout time.Duration

	// MaxDataSize, if positive, is the largest session (in bytes) Commit
	// accepts; larger data gives an error matching sessionstore.ErrTooLarge
	// and writes nothing. Redis itself refuses values over its
	// proto-max-bulk-len (512 MB by default).
	MaxDataSize int

	// TombstoneLifetime is how long after a Delete, at least, its tombstone
	// blocks Commits of the token: the tombstone lasts until the later of
	// the deleted session's expiry and the Delete time plus
	// TombstoneLifetime. Zero means sessionstore.DefaultTombstoneLifetime
	// (1 hour); a negative value is an error.
	TombstoneLifetime time.Duration

	// ClockSkew is how far the clocks of the application's replicas and of
	// Redis may differ. A tombstone key is given a Redis expiry (PXAT) of
	// its expiry plus ClockSkew, and DeleteExpired removes a tombstone only
	// once it has been expired for ClockSkew by this replica's clock; a
	// session key likewise stays in Redis for ClockSkew past its expiry
	// (Find, All and Sessions never serve it then), so that a Delete just
	// after the expiry still leaves a tombstone. Zero means
	// sessionstore.DefaultClockSkew (15 minutes); a negative value is an
	// error.
	ClockSkew time.Duration

	// PageSize is SCAN's COUNT hint and the number of keys read per
	// pipelined round trip by Sessions, All and DeleteExpired. Default:
	// DefaultPageSize.
	PageSize int

	// Logger receives what the store cannot return as an error. Default:
	// slog.Default().
	Logger *slog.Logger

	// Now is the clock that decides which sessions have expired, and from
	// which the absolute Redis expiries (PXAT) are computed; Redis's own
	// clock only decides when it drops a key. Default: time.Now.
	Now func() time.Time

	// Owner, if set, turns on the per-user index (sessionstore.UserIndex):
	// Commit reads each session's owner from its data with it, before any
	// round trip, and keeps the index in the same script as the session
	// (see docs/redisstore.md). nil: no index, and the store sends exactly
	// the commands it sends without one.
	Owner sessionstore.OwnerFunc

	// TouchWindow, if positive, coalesces touches: a Commit whose data is
	// the same as what this store last read (Find) or wrote for the token,
	// and whose expiry moves later by less than TouchWindow, writes nothing
	// and makes no round trip. With SCS's IdleTimeout, which commits every
	// session a request loads, it turns the write per request into at most
	// one per session per window. A session's stored expiry is then up to
	// TouchWindow earlier than the last requested one, never later; a change
	// of data, an expiry that moves earlier, or a session with less than
	// TouchWindow left is always written; and the per-user index's last-seen
	// time is as old as the last write. Data of SCS's GobCodec is compared
	// by its values, whatever order gob wrote them in; other data by its
	// bytes. Find reads the expiry from the value's header, so it sends the
	// same GET as without the option. See docs/touch.md. Zero: every Commit
	// is written. A negative value is an error.
	TouchWindow time.Duration

	// IndexPrefix starts every key of the per-user index (used only with
	// Owner set). Like TombstonePrefix it must not contain '{', nor '*',
	// and none of the three prefixes may be a prefix of another. Default: Prefix with a
	// trailing "session:" replaced by "index:" ("scs:index:" with the
	// default Prefix), or "index:" + Prefix when it has no such suffix.
	IndexPrefix string
}

var errNilClient = errors.New("redisstore: nil client")

// resolvePrefixes applies the defaults of Prefix and TombstonePrefix and
// checks them.
func resolvePrefixes(cfg Config) (prefix, tomb string, err error) {
	prefix = cfg.Prefix
	if prefix == "" {
		prefix = DefaultPrefix
	}
	tomb = cfg.TombstonePrefix
	switch {
	case tomb != "":
	case prefix == DefaultPrefix:
		tomb = DefaultTombstonePrefix
	case strings.HasSuffix(prefix, "session:"):
		tomb = strings.TrimSuffix(prefix, "session:") + "tombstone:"
	default:
		tomb = "tombstone:" + prefix
	}
	if strings.Contains(tomb, "{") {
		return "", "", fmt.Errorf("redisstore: config: TombstonePrefix %q contains '{': the tombstone key's hash tag must be its first brace pair (set TombstonePrefix)", tomb)
	}
	if strings.HasPrefix(tomb, prefix) || strings.HasPrefix(prefix, tomb) {
		return "", "", fmt.Errorf("redisstore: config: Prefix %q and TombstonePrefix %q: neither may be a prefix of the other, or sessions and tombstones could share keys", prefix, tomb)
	}
	return prefix, tomb, nil
}

// resolveIndexPrefix applies the default of IndexPrefix and checks it
// against the other two prefixes.
func resolveIndexPrefix(cfg Config, prefix, tomb string) (string, error) {
	idx := cfg.IndexPrefix
	switch {
	case idx != "":
	case strings.HasSuffix(prefix, "session:"):
		idx = strings.TrimSuffix(prefix, "session:") + "index:"
	default:
		idx = "index:" + prefix
	}
	if strings.Contains(idx, "{") {
		return "", fmt.Errorf("redisstore: config: IndexPrefix %q contains '{': the index keys' hash tag must be their first brace pair (set IndexPrefix)", idx)
	}
	if strings.Contains(idx, "*") {
		return "", fmt.Errorf("redisstore: config: IndexPrefix %q contains '*': a listing reads the metadata with SORT ... GET, whose pattern takes the first '*' for the token (set IndexPrefix)", idx)
	}
	for _, other := range []string{prefix, tomb} {
		if strings.HasPrefix(idx, other) || strings.HasPrefix(other, idx) {
			return "", fmt.Errorf("redisstore: config: IndexPrefix %q and %q: neither may be a prefix of the other, or index keys could meet session or tombstone keys", idx, other)
		}
	}
	return idx, nil
}

// checkClient refuses clients the store cannot serve correctly.
func checkClient(c redis.UniversalClient) error {
	switch c := c.(type) {
	case nil:
		return errNilClient
	case *redis.Ring:
		// A Ring shards by hash tag across independent servers: a session
		// and its tombstone would land on different shards, and Commit's
		// script could not see both.
		return errors.New("redisstore: *redis.Ring is not supported: use a single server, Sentinel (failover client) or Redis Cluster")
	case *redis.Client:
		if c == nil {
			return errNilClient
		}
	case *redis.ClusterClient:
		if c == nil {
			return errNilClient
		}
	}
	return nil
}

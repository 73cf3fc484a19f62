package gorillastore

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/gorilla/sessions"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

var (
	_ DBConn = (*pgxpool.Pool)(nil)
	_ DBConn = (*pgx.Conn)(nil)
	_ DBConn = pgx.Tx(nil)
)

// newTestPGStore returns a PGStore on a fresh table of pool.
func newTestPGStore(t *testing.T, pool *pgxpool.Pool, cfg PGConfig) *PGStore {
	t.Helper()
	if cfg.KeyPairs == nil {
		cfg.KeyPairs = [][]byte{key1}
	}
	if cfg.Table == "" {
		cfg.Table = tableName()
	}
	s, err := NewPGStoreWithConfig(pool, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Close()
		_ = s.b.dropSchema(context.Background())
	})
	return s
}

func rows(t *testing.T, s *PGStore) []PGSession {
	t.Helper()
	rs, err := s.b.db.Query(context.Background(),
		`SELECT id, key, data, created_on, modified_on, expires_on FROM `+s.b.table+` ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rs, func(row pgx.CollectableRow) (PGSession, error) {
		var p PGSession
		var data []byte
		err := row.Scan(&p.ID, &p.Key, &data, &p.CreatedAt, &p.UpdatedAt, &p.ExpiresOn)
		p.Data = string(data)
		return p, err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestPGStoreStoresDigestNotID(t *testing.T) {
	s := newTestPGStore(t, testPool(t), PGConfig{})
	sess, r := load(t, s, "sid")
	sess.Values["user"] = "alice"
	c := save(t, s, r, sess)
	rs := rows(t, s)
	if len(rs) != 1 {
		t.Fatalf("%d rows, want 1", len(rs))
	}
	if rs[0].Key != token(sess.ID) || strings.Contains(rs[0].Key, sess.ID) || strings.Contains(rs[0].Data, sess.ID) {
		t.Errorf("row key %q: want the SHA-256 of the ID, and the ID nowhere in the row", rs[0].Key)
	}
	if strings.Contains(rs[0].Data, c.Value) || strings.Contains(rs[0].Key, c.Value) {
		t.Error("the cookie value is stored in the table")
	}
	save(t, s, r, sess)
	if n := len(rows(t, s)); n != 1 {
		t.Errorf("%d rows after a second Save, want 1", n)
	}
}

func TestPGStoreUndecodableData(t *testing.T) {
	s := newTestPGStore(t, testPool(t), PGConfig{})
	sess, r := load(t, s, "sid")
	c := save(t, s, r, sess)
	if _, err := s.b.db.Exec(context.Background(), `UPDATE `+s.b.table+` SET data = '\x02ff00'`); err != nil {
		t.Fatal(err)
	}
	got, err := s.New(request(c), "sid")
	if err == nil || !got.IsNew || got.ID == sess.ID {
		t.Fatalf("undecodable data: IsNew=%v ID=%q err=%v, want a fresh session and an error", got.IsNew, got.ID, err)
	}
	save(t, s, r, got)
	rs := rows(t, s)
	if len(rs) != 2 || rs[1].Key != token(got.ID) {
		t.Fatalf("rows = %+v, want the old row and one under the fresh ID", rs)
	}
}

// switchDB is a DBConn whose connection a test replaces.
type switchDB struct{ DBConn }

func TestPGStoreDatabaseDown(t *testing.T) {
	pool := testPool(t)
	s := newTestPGStore(t, pool, PGConfig{})
	sess, r := load(t, s, "sid")
	c := save(t, s, r, sess)

	down, err := pgxpool.New(context.Background(), testDSN)
	if err != nil {
		t.Fatal(err)
	}
	down.Close()
	sw := &switchDB{pool}
	broken, err := NewPGStoreWithConfig(sw, PGConfig{Config: Config{KeyPairs: [][]byte{key1}}, Table: strings.Trim(s.b.table, `"`)})
	if err != nil {
		t.Fatal(err)
	}
	sw.DBConn = down
	got, err := broken.New(request(c), "sid")
	if err == nil || !strings.HasPrefix(err.Error(), "gorillastore: load session: find in "+s.b.table+": ") || got.ID == sess.ID || !got.IsNew {
		t.Fatalf("New with the database down: IsNew=%v err=%v, want a fresh session and a wrapped error", got.IsNew, err)
	}
	if err := broken.Save(r, httptest.NewRecorder(), got); err == nil {
		t.Error("Save with the database down succeeded")
	}
}

func TestPGStoreClose(t *testing.T) {
	pool := testPool(t)
	s := newTestPGStore(t, pool, PGConfig{})
	s.Close()
	s.Close()
	if err := pool.Ping(context.Background()); err != nil {
		t.Fatalf("Close closed the caller's pool: %v", err)
	}

	own, err := NewPGStore(testDSN, key1)
	if err != nil {
		t.Fatal(err)
	}
	if own.Options.MaxAge != DefaultMaxAge || own.Options.Path != "/" || own.Path != "/" {
		t.Errorf("defaults: Options=%+v Path=%q", own.Options, own.Path)
	}
	if got := own.ownPool.Config().MaxConns; got != defaultMaxConns() {
		t.Errorf("own pool: MaxConns = %d, want defaultMaxConns() = %d", got, defaultMaxConns())
	}
	sess, r := load(t, own, "sid")
	save(t, own, r, sess)
	_ = own.b.dropSchema(context.Background())
	own.Close()
	if err := own.ownPool.Ping(context.Background()); err == nil {
		t.Error("Close left its own pool open")
	}

	if _, err := NewPGStoreFromPool(pool); err == nil {
		t.Error("a store without keys was created")
	}
	if _, err := NewPGStore("postgres://nobody@127.0.0.1:1/none?connect_timeout=1", key1); err == nil {
		t.Error("a store on an unreachable server was created")
	}
}

// TestPGStoreOnConnAndTx runs a round trip on a *pgx.Conn and inside a pgx.Tx.
func TestPGStoreOnConnAndTx(t *testing.T) {
	ctx := context.Background()
	testPool(t) // skips (fails in CI) without a server
	conn, err := pgx.Connect(ctx, testDSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(ctx) })
	txConn, err := pgx.Connect(ctx, testDSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = txConn.Close(ctx) })
	tx, err := txConn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tx.Rollback(ctx) }) // the tables vanish with it

	for _, db := range []DBConn{conn, tx} {
		s, err := NewPGStoreWithConfig(db, PGConfig{Config: Config{KeyPairs: [][]byte{key1}}, Table: tableName()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.b.dropSchema(ctx) })
		sess, r := load(t, s, "sid")
		sess.Values["k"] = "v"
		c := save(t, s, r, sess)
		if got, _ := load(t, s, "sid", c); got.Values["k"] != "v" {
			t.Errorf("round trip on %T failed", db)
		}
		if _, err := s.DeleteExpired(ctx); err != nil {
			t.Errorf("DeleteExpired on %T: %v", db, err)
		}
		s.Close()
	}
}

func TestPGStoreRejectsLegacyTable(t *testing.T) {
	pool := testPool(t)
	table := tableName()
	ctx := context.Background()
	// The schema of antonlindstrom/pgstore: no unique key.
	if _, err := pool.Exec(ctx, `CREATE TABLE `+table+` (id BIGSERIAL PRIMARY KEY, key BYTEA, data BYTEA,
created_on TIMESTAMPTZ DEFAULT NOW(), modified_on TIMESTAMPTZ, expires_on TIMESTAMPTZ);
CREATE TABLE `+table+`_tombstones (key TEXT PRIMARY KEY, expires_on TIMESTAMPTZ NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = pool.Exec(ctx, `DROP TABLE `+table+`, `+table+`_tombstones`) })
	_, err := NewPGStoreWithConfig(pool, PGConfig{Config: Config{KeyPairs: [][]byte{key1}}, Table: table})
	if err == nil || !strings.Contains(err.Error(), "no unique key column") {
		t.Fatalf("store on a legacy table: %v, want an error naming the problem", err)
	}
}

// TestPGStoreLogoutRacesSave runs a logout and a Save of the same session at
// the same time, many times: whichever runs first, the session must end up
// deleted.
func TestPGStoreLogoutRacesSave(t *testing.T) {
	s := newTestPGStore(t, testPool(t), PGConfig{})
	for i := range 60 {
		sess, r := load(t, s, "sid")
		c := save(t, s, r, sess)
		slow, slowReq := load(t, s, "sid", c)
		logout, logoutReq := load(t, s, "sid", c)
		logout.Options.MaxAge = -1
		slow.Values["i"] = i
		errs := make(chan error, 2)
		go func() { errs <- s.Save(slowReq, httptest.NewRecorder(), slow) }()
		go func() { errs <- s.Save(logoutReq, httptest.NewRecorder(), logout) }()
		for range 2 {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		if got, _ := load(t, s, "sid", c); !got.IsNew {
			t.Fatalf("iteration %d: a Save racing the logout brought the session back", i)
		}
	}
}

// TestPGStoreGetNeverWrites loads sessions that do not exist, with and
// without cookies: nothing may be written.
func TestPGStoreGetNeverWrites(t *testing.T) {
	s := newTestPGStore(t, testPool(t), PGConfig{})
	sess, r := load(t, s, "sid")
	c := save(t, s, r, sess)
	sess.Options.MaxAge = -1
	save(t, s, r, sess) // deleted: the cookie is now valid for no session
	for range 3 {
		if _, err := s.Get(request(), "sid"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(request(c), "sid"); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(rows(t, s)); n != 0 {
		t.Errorf("%d rows after Gets of missing sessions, want 0", n)
	}
}

// maxGetAllocs is the target for a Get of an existing session.
const maxGetAllocs = 30

// TestPGStoreGetAllocs checks the allocations of a Get of an existing
// session (cookie decode and load, on a fresh request each time, as a
// server makes one), against the target of 30.
func TestPGStoreGetAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	s := newTestPGStore(t, testPool(t), PGConfig{})
	sess, r := load(t, s, "sid")
	sess.Values["user_id"] = 123456
	sess.Values["name"] = "alice@example.com"
	sess.Values["csrf"] = "kJ3d9fQ0sLx7Vb2nR8tY1wE4uI6oP5aZ"
	sess.Values["admin"] = false
	base := request(save(t, s, r, sess))
	var err error
	n := testing.AllocsPerRun(200, func() {
		r := *base
		var got *sessions.Session
		if got, err = s.Get(&r, "sid"); err == nil && got.IsNew {
			err = errors.New("session not found")
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%v allocations per Get", n)
	if n > maxGetAllocs {
		t.Errorf("%v allocations per Get, want at most %d", n, maxGetAllocs)
	}
}

// TestPGStoreLoadCopiesValues checks that loaded values do not share memory
// with the buffer the row is scanned into, which the next load reuses.
func TestPGStoreLoadCopiesValues(t *testing.T) {
	s := newTestPGStore(t, testPool(t), PGConfig{})
	for _, format := range []string{"compact", "gob"} {
		t.Run(format, func(t *testing.T) {
			saveOne := func(fill byte) *http.Cookie {
				sess, r := load(t, s, "sid")
				sess.Values["s"] = strings.Repeat(string(fill), 100)
				sess.Values["b"] = bytes.Repeat([]byte{fill}, 100)
				if format == "gob" {
					sess.Values["p"] = point{int(fill), 0}
				}
				return save(t, s, r, sess)
			}
			a, b := saveOne('a'), saveOne('b')
			first, _ := load(t, s, "sid", a)
			for range 3 {
				load(t, s, "sid", b)
			}
			if first.IsNew || first.Values["s"] != strings.Repeat("a", 100) ||
				!bytes.Equal(first.Values["b"].([]byte), bytes.Repeat([]byte("a"), 100)) {
				t.Fatalf("values of the first session changed: %v", first.Values)
			}
		})
	}
}

func TestNewPGStorePoolSize(t *testing.T) {
	for _, n := range []int{1, 2, 16} {
		if got, want := withGOMAXPROCS(n, defaultMaxConns), int32(min(max(4, 4*n), 32)); got != want {
			t.Errorf("GOMAXPROCS %d: defaultMaxConns = %d, want %d", n, got, want)
		}
	}
	const url = "postgres://u@db.example:5432/app?sslmode=disable"
	tests := []struct {
		name string
		url  string
		want int32
	}{
		{"Default", url, defaultMaxConns()},
		{"FromURL", url + "&pool_max_conns=3", 3},
		{"FromURLLarge", url + "&pool_max_conns=50", 50},
		{"KeywordValue", "host=db.example user=u pool_max_conns=7", 7},
		{"KeywordValueDefault", "host=db.example user=u pool_min_conns=1", defaultMaxConns()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := poolConfig(tt.url)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.MaxConns != tt.want {
				t.Errorf("MaxConns = %d, want %d", cfg.MaxConns, tt.want)
			}
			if _, ok := cfg.ConnConfig.RuntimeParams["pool_max_conns"]; ok {
				t.Error("pool_max_conns is sent to the server as a runtime parameter")
			}
		})
	}
	if _, err := poolConfig(url + "&pool_max_conns=x"); err == nil {
		t.Error("poolConfig accepted pool_max_conns=x")
	}
}

// withGOMAXPROCS returns f() run with GOMAXPROCS n.
func withGOMAXPROCS[T any](n int, f func() T) T {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(n))
	return f()
}

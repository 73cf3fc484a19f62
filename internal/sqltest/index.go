package sqltest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/sessionstore/sessionstore"
	"github.com/sessionstore/sessionstore/internal/sqlstore"
	"github.com/sessionstore/sessionstore/storetest"
)

// RunIndexTests runs the per-user index tests every SQL store shares, on
// every dialect in parallel: the migration of a populated table, a role
// that may not alter the table, the index off, and (MySQL) an owner index
// of an earlier version's shape, replaced by its owner and kept by a role
// that may not alter the table, and the schema changes behind an open
// transaction, which wait a bounded time.
func RunIndexTests(t *testing.T, dialects []Dialect) {
	runOnDialects(t, dialects, []dialectTest{
		{"MigratePopulated", migratePopulated},
		{"NoAlterPrivilege", noAlterPrivilege},
		{"IndexOff", indexOff},
		{"OldOwnerIndex", oldOwnerIndex},
		{"OldOwnerIndexNoAlter", oldOwnerIndexNoAlter},
		{"MigrateBehindTransaction", migrateBehindTransaction},
		{"ReplaceBehindTransaction", replaceBehindTransaction},
	})
}

// gobData is SCS session data with owner under storetest.OwnerKey (none
// if "").
func gobData(t *testing.T, owner string, expiry time.Time) []byte {
	t.Helper()
	values := map[string]any{"theme": "dark"}
	if owner != "" {
		values[storetest.OwnerKey] = owner
	}
	b, err := scs.GobCodec{}.Encode(expiry, values)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// valueGroups returns n comma-separated groups of size parameters in d's
// style.
func valueGroups(d Dialect, n, size int) string {
	var sb strings.Builder
	k := 0
	for i := range n {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteByte('(')
		for j := range size {
			if j > 0 {
				sb.WriteString(", ")
			}
			k++
			if d.Placeholder == sqlstore.Dollar {
				sb.WriteString("$" + strconv.Itoa(k))
			} else {
				sb.WriteByte('?')
			}
		}
		sb.WriteByte(')')
	}
	return sb.String()
}

// listedIDs returns the sorted IDs UserSessions lists for user.
func listedIDs(t *testing.T, s sessionstore.UserIndex, user string) []string {
	t.Helper()
	got, err := s.UserSessions(context.Background(), user)
	if err != nil {
		t.Fatalf("UserSessions(%q): %v", user, err)
	}
	ids := make([]string, len(got))
	for i, us := range got {
		ids[i] = us.ID
	}
	slices.Sort(ids)
	return ids
}

func ids(tokens []string) []string {
	out := make([]string, len(tokens))
	for i, tok := range tokens {
		out[i] = sessionstore.SessionID(tok)
	}
	slices.Sort(out)
	return out
}

// migratePopulated turns the index on over a table an index-off store has
// filled with more sessions than one backfill batch: live sessions stay
// found throughout (by the old store, whose statements keep working on the
// migrated table), the backfill lists every live owned session under its
// owner, a Commit racing the backfill wins, and a session whose owner
// cannot be read is left unindexed and counted in one WARN.
func migratePopulated(t *testing.T, d Dialect, db DB) {
	clock := storetest.NewClock(time.Now().Truncate(time.Microsecond))
	table := freshTable("mig")
	old := db.NewStore(t, Options{Table: table, Now: clock.Now})
	st, err := sqlstore.New(d.Dialect, d.Placeholder, table)
	if err != nil {
		t.Fatal(err)
	}
	const n = 1200 // more than one backfill batch
	users := []string{"alice", "Alice", "alice ", "bob", "%"}
	want := map[string][]string{}
	var all []string
	exp := clock.Now().Add(time.Hour)
	type row struct {
		tok  string
		data []byte
		exp  time.Time
	}
	var rows []row
	for i := range n {
		tok := fmt.Sprintf("mig-%05d", i)
		all = append(all, tok)
		owner := ""
		if i%4 != 0 {
			owner = users[i%len(users)]
		}
		e := exp
		if i%50 == 7 {
			e = clock.Now().Add(-time.Minute) // expired: never listed
		} else if owner != "" {
			want[owner] = append(want[owner], tok)
		}
		rows = append(rows, row{tok, gobData(t, owner, e), e})
	}
	rows = append(rows, row{"mig-unreadable", []byte("not gob"), exp})
	for chunk := range slices.Chunk(rows, 200) {
		args := make([]any, 0, 3*len(chunk))
		for _, r := range chunk {
			args = append(args, r.tok, r.data, st.Time(r.exp))
		}
		if err := db.Exec("INSERT INTO "+table+" (token, data, expiry) VALUES "+valueGroups(d, len(chunk), 3), args...); err != nil {
			t.Fatal(err)
		}
	}
	// racer is alice's; while the backfill holds the page that still says
	// so, an indexed Commit (another replica) gives it to bob.
	racer := all[5] // 5 % len(users) == 0
	if !slices.Contains(want["alice"], racer) {
		t.Fatalf("%s is not alice's", racer)
	}
	var once sync.Once
	hook := func() {
		once.Do(func() {
			if _, ok, err := old.Find(all[0]); err != nil || !ok {
				t.Errorf("Find during the migration: %v, %v", ok, err)
			}
			if err := indexedCommit(d, db, table, racer, gobData(t, "bob", exp), exp, "bob", clock.Now()); err != nil {
				t.Errorf("racing indexed Commit: %v", err)
			}
		})
	}
	want["alice"] = slices.DeleteFunc(want["alice"], func(tok string) bool { return tok == racer })
	want["bob"] = append(want["bob"], racer)
	logs := &warnCounter{}
	clock.Advance(time.Second)
	migrated := db.NewStore(t, Options{Table: table, Now: clock.Now, Owner: storetest.Owner,
		BeforeBackfill: hook, Logger: slog.New(logs)})
	idx := migrated.(sessionstore.UserIndex)
	for _, u := range users {
		if got := listedIDs(t, idx, u); !slices.Equal(got, ids(want[u])) {
			t.Errorf("after the migration %q has %d sessions listed, want %d", u, len(got), len(want[u]))
		}
	}
	if got := listedIDs(t, idx, "bob"); !slices.Contains(got, sessionstore.SessionID(racer)) {
		t.Error("the Commit racing the backfill lost: bob's session is not listed")
	}
	if w := logs.get(); len(w) == 0 || w[0] != 1 {
		t.Errorf("WARNs about unreadable sessions = %v, want the first to count 1", w)
	}
	bob, err := idx.UserSessions(context.Background(), "bob")
	if err != nil {
		t.Fatal(err)
	}
	for _, us := range bob {
		if us.ID != sessionstore.SessionID(racer) && (!us.Created.Equal(clock.Now()) || !us.LastSeen.Equal(clock.Now())) {
			t.Fatalf("a backfilled session has Created, LastSeen = %v, %v; want the migration time %v", us.Created, us.LastSeen, clock.Now())
			break
		}
	}
	// The old store still serves and commits every session on the migrated
	// table: no forced logout.
	for _, tok := range []string{all[0], all[2], all[n-1]} {
		if _, ok, err := old.Find(tok); err != nil || !ok {
			t.Errorf("old store: Find(%s) after the migration = %v, %v", tok, ok, err)
		}
		if err := old.Commit(tok, gobData(t, "", exp), exp); err != nil {
			t.Errorf("old store: Commit after the migration: %v", err)
		}
	}
	// Migrate again: nothing left to do but the unreadable session.
	if m, ok := migrated.(interface{ Migrate(context.Context) error }); ok {
		if err := m.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := idx.DeleteUserSessions(context.Background(), "alice"); err != nil || n != len(want["alice"]) {
		t.Errorf("DeleteUserSessions(alice) = %d, %v; want %d", n, err, len(want["alice"]))
	}
	if got := listedIDs(t, idx, "Alice"); len(got) != len(want["Alice"]) {
		t.Errorf("revoking alice took Alice's sessions: %d left of %d", len(got), len(want["Alice"]))
	}
}

// warnCounter records the "sessions" count of every WARN.
type warnCounter struct {
	mu sync.Mutex
	n  []int64
}

func (h *warnCounter) Enabled(context.Context, slog.Level) bool { return true }

func (h *warnCounter) Handle(_ context.Context, r slog.Record) error {
	if r.Level != slog.LevelWarn {
		return nil
	}
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "sessions" {
			h.mu.Lock()
			h.n = append(h.n, a.Value.Int64())
			h.mu.Unlock()
		}
		return true
	})
	return nil
}

func (h *warnCounter) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *warnCounter) WithGroup(string) slog.Handler      { return h }

func (h *warnCounter) get() []int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]int64(nil), h.n...)
}

// noAlterPrivilege turns the index on from a role that may read and write
// the sessions table but not alter it: NewWithConfig must refuse with an
// error matching sessionstore.ErrNoIndex that names Migrate, rather than
// run a store that cannot list anyone's sessions; with the index off the
// role's store runs as before.
func noAlterPrivilege(t *testing.T, d Dialect, admin DB) {
	if d.OpenAs == nil {
		t.Skip("the database has no users")
	}
	table := freshTable("na")
	st, err := sqlstore.New(d.Dialect, d.Placeholder, table)
	if err != nil {
		t.Fatal(err)
	}
	db, _ := restrictedUser(t, d, admin, table, "sqlb", slices.Concat(st.CreateSessions, st.CreateTombstones), table, table+"_tombstones")
	s, err := db.TryStore(t, Options{Table: table, Owner: storetest.Owner})
	if !errors.Is(err, sessionstore.ErrNoIndex) || !strings.Contains(err.Error(), "Migrate") {
		if s != nil {
			s.StopCleanup()
		}
		t.Fatalf("NewWithConfig with Owner, without ALTER privilege: %v; want an error matching ErrNoIndex that names Migrate", err)
	}
	s, err = db.TryStore(t, Options{Table: table})
	if err != nil {
		t.Fatalf("NewWithConfig without Owner: %v", err)
	}
	if err := s.Commit("tok", []byte("x"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	// An administrator migrates; the role's indexed store then runs.
	for _, q := range st.Index.AddColumns(sqlstore.IndexColumns) {
		if err := admin.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := admin.Exec(st.Index.CreateOwnerIndex); err != nil {
		t.Fatal(err)
	}
	s, err = db.TryStore(t, Options{Table: table, Owner: storetest.Owner, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("NewWithConfig with Owner on a table an administrator migrated: %v", err)
	}
	tok := "indexed"
	exp := time.Now().Add(time.Hour)
	if err := s.Commit(tok, gobData(t, "alice", exp), exp); err != nil {
		t.Fatal(err)
	}
	if got := listedIDs(t, s.(sessionstore.UserIndex), "alice"); !slices.Equal(got, ids([]string{tok})) {
		t.Errorf("alice's sessions = %v, want %s", got, tok)
	}
	// The role's Migrate, with everything in place, has nothing to create
	// and succeeds: an application that runs it at every start keeps
	// starting once an administrator has migrated for it.
	if err := s.(interface{ Migrate(context.Context) error }).Migrate(context.Background()); err != nil {
		t.Errorf("Migrate as a role without CREATE or ALTER, on migrated tables: %v", err)
	}
	// With a table missing, it fails with the server's refusal.
	if err := admin.Exec("DROP TABLE " + table + "_tombstones"); err != nil {
		t.Fatal(err)
	}
	if err := s.(interface{ Migrate(context.Context) error }).Migrate(context.Background()); err == nil {
		t.Error("Migrate as a role without CREATE, without the tombstone table: nil error")
	}
}

// indexOff checks that a store without Owner leaves the table as it was
// (no index columns) and answers every UserIndex method with an error
// matching sessionstore.ErrNoIndex.
func indexOff(t *testing.T, d Dialect, db DB) {
	table := freshTable("off")
	s := db.NewStore(t, Options{Table: table})
	exp := time.Now().Add(time.Hour)
	if err := s.Commit("tok", gobData(t, "alice", exp), exp); err != nil {
		t.Fatal(err)
	}
	// A probe of the five columns fails on the unmigrated table.
	if err := db.Exec("SELECT " + strings.Join(sqlstore.IndexColumns, ", ") + " FROM " + table + " WHERE 1 = 0"); err == nil {
		t.Error("the store with its index off added the index columns")
	}
	idx, ok := s.(sessionstore.UserIndex)
	if !ok {
		t.Fatalf("%T does not implement sessionstore.UserIndex", s)
	}
	ctx := context.Background()
	_, err1 := idx.UserSessions(ctx, "alice")
	_, err2 := idx.CountUserSessions(ctx, "alice")
	_, err3 := idx.DeleteUserSession(ctx, "alice", sessionstore.SessionID("tok"))
	_, err4 := idx.DeleteUserSessions(ctx, "alice")
	_, err5 := idx.DeleteUserSessionsExcept(ctx, "alice", "tok")
	for i, err := range []error{err1, err2, err3, err4, err5} {
		if !errors.Is(err, sessionstore.ErrNoIndex) {
			t.Errorf("UserIndex method %d with the index off: %v, want ErrNoIndex", i+1, err)
		}
	}
	if _, ok, err := s.Find("tok"); err != nil || !ok {
		t.Errorf("Find = %v, %v", ok, err)
	}
}

// RevokeCrash kills the connection of a DeleteUserSessions at each of its
// statements in turn (k = 0, 1, ...), through killer, the connector under
// db: whatever k, the revoke is all or nothing, every listed session is
// live, and another user's session is untouched. It stops at the first k
// that lets the revoke finish, and fails if none does within 20.
func RevokeCrash(t *testing.T, db DB, killer *Killer) {
	clock := storetest.NewClock(time.Now().Truncate(time.Microsecond))
	s := db.NewStore(t, Options{Now: clock.Now, Owner: storetest.Owner})
	idx := s.(sessionstore.UserIndex)
	ctx := context.Background()
	exp := clock.Now().Add(time.Hour)
	bob := "crash-bob"
	if err := s.Commit(bob, gobData(t, "bob", exp), exp); err != nil {
		t.Fatal(err)
	}
	for k := range 20 {
		var alice []string
		for i := range 3 {
			tok := fmt.Sprintf("crash-%d-%d", k, i)
			if err := s.Commit(tok, gobData(t, "alice", exp), exp); err != nil {
				t.Fatal(err)
			}
			alice = append(alice, tok)
		}
		killer.Arm(k)
		n, err := idx.DeleteUserSessions(ctx, "alice")
		killed := killer.Disarm()
		found := 0
		for _, tok := range alice {
			if _, ok, err := s.Find(tok); err != nil {
				t.Fatal(err)
			} else if ok {
				found++
			}
		}
		listed := listedIDs(t, idx, "alice")
		switch {
		case !killed && err == nil:
			if n != 3 || found != 0 || len(listed) != 0 {
				t.Fatalf("k=%d: DeleteUserSessions = %d; %d sessions found, %d listed; want 3, 0, 0", k, n, found, len(listed))
			}
			if k < 2 {
				t.Fatalf("the revoke finished with %d statements", k)
			}
			t.Logf("the revoke ran %d statements; a kill at each of them rolled it back or left it done", k)
			if _, ok, err := s.Find(bob); err != nil || !ok {
				t.Fatalf("bob's session: %v, %v", ok, err)
			}
			return
		case err == nil:
			t.Fatalf("k=%d: DeleteUserSessions succeeded on a killed connection", k)
		case found == 3 && slices.Equal(listed, ids(alice)):
			// Rolled back: revoke them for real before the next round.
			if n, err := idx.DeleteUserSessions(ctx, "alice"); err != nil || n != 3 {
				t.Fatalf("k=%d: DeleteUserSessions after the crash = %d, %v", k, n, err)
			}
		case found == 0 && len(listed) == 0:
			// Committed before the connection died.
		default:
			t.Fatalf("k=%d: after a crash (%v), %d of 3 sessions found and %d listed: not all or nothing", k, err, found, len(listed))
		}
		for _, tok := range alice { // the tombstones hold
			if err := s.Commit(tok, gobData(t, "alice", exp), exp); err != nil {
				t.Fatal(err)
			}
			if _, ok, _ := s.Find(tok); ok {
				t.Fatalf("k=%d: a revoked session came back", k)
			}
		}
	}
	t.Fatal("no revoke finished within 20 statements")
}

package sqlstore

import (
	"strings"
	"testing"
	"time"
)

// TestPlaceholders checks that every statement takes the arguments its
// field comment documents, in both placeholder styles.
func TestPlaceholders(t *testing.T) {
	for _, d := range []Dialect{MySQL, SQLite} {
		for _, p := range []Placeholders{Question, Dollar} {
			st, err := New(d, p, "sessions")
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]int{
				"Find": 2, "FindPlain": 2, "FindExpiry": 2, "FindExpiryPlain": 2, "Commit": 4, "CommitPlain": 3, "Delete": 1, "All": 1, "AllPlain": 1,
				"Page": 3, "PagePlain": 3, "ExpireSessions": 2, "ExpireTombstones": 2, "PurgeSessions(3)": 3,
			}
			got := map[string]string{
				"Find": st.Find, "FindPlain": st.FindPlain, "FindExpiry": st.FindExpiry, "FindExpiryPlain": st.FindExpiryPlain, "Commit": st.Commit, "CommitPlain": st.CommitPlain,
				"Delete": st.Delete, "All": st.All, "AllPlain": st.AllPlain, "Page": st.Page, "PagePlain": st.PagePlain,
				"ExpireSessions": st.ExpireSessions, "ExpireTombstones": st.ExpireTombstones, "PurgeSessions(3)": st.PurgeSessions(3),
			}
			want["Tombstone"], got["Tombstone"] = 2, st.Tombstone
			if d == MySQL {
				want["PurgeTombstones(3)"], got["PurgeTombstones(3)"] = 4, st.PurgeTombstones(3)
			}
			for name, q := range got {
				n := strings.Count(q, "?")
				if p == Dollar {
					n = strings.Count(q, "$")
					if want[name] > 0 && !strings.Contains(q, "$"+string(rune('0'+want[name]))) {
						t.Errorf("%v %s: no $%d in %s", d, name, want[name], q)
					}
				}
				if n != want[name] {
					t.Errorf("%v/%d %s has %d parameters, want %d: %s", d, p, name, n, want[name], q)
				}
			}
		}
	}
}

// TestExactProbe checks that only plain names reach the probe's SQL text.
func TestExactProbe(t *testing.T) {
	q, err := ExactProbe("utf8mb4", "utf8mb4_nopad_bin")
	if err != nil || !strings.Contains(q, "COLLATE utf8mb4_nopad_bin") {
		t.Errorf("ExactProbe = %q, %v", q, err)
	}
	for _, bad := range [][2]string{{"utf8mb4", "x; DROP TABLE t"}, {"a'b", "utf8mb4_bin"}, {"", "utf8mb4_bin"}} {
		if _, err := ExactProbe(bad[0], bad[1]); err == nil {
			t.Errorf("ExactProbe(%q, %q) succeeded", bad[0], bad[1])
		}
	}
}

func TestCheckTable(t *testing.T) {
	for _, ok := range []string{"sessions", "_s", "S_1", strings.Repeat("t", MaxTableLen)} {
		if err := CheckTable(ok); err != nil {
			t.Errorf("CheckTable(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "1s", "a b", "a.b", `a"b`, "a`b", "a;b", strings.Repeat("t", MaxTableLen+1), "été"} {
		if err := CheckTable(bad); err == nil {
			t.Errorf("CheckTable(%q) = nil, want an error", bad)
		}
	}
}

// TestSQLiteTimeOrder checks that SQLite's text times sort as times do.
func TestSQLiteTimeOrder(t *testing.T) {
	st, _ := New(SQLite, Question, "sessions")
	base := time.Date(2026, 11, 22, 23, 59, 59, 0, time.FixedZone("X", 3600))
	prev := ""
	for _, d := range []time.Duration{0, time.Microsecond, 10 * time.Microsecond, time.Millisecond, time.Second, time.Hour} {
		s := st.Time(base.Add(d)).(string)
		if s <= prev {
			t.Errorf("%q sorts before %q", s, prev)
		}
		prev = s
	}
}

func TestTimeScanner(t *testing.T) {
	want := time.Date(2026, 11, 22, 21, 0, 0, 123456000, time.UTC)
	for _, v := range []any{want, "2026-11-22 21:00:00.123456+00:00", []byte("2026-11-22 21:00:00.123456"), "2026-11-22T22:00:00.123456+01:00"} {
		var ts timeScanner
		if err := ts.Scan(v); err != nil || !ts.t.Equal(want) {
			t.Errorf("Scan(%v) = %v, %v; want %v", v, ts.t, err, want)
		}
	}
	var ts timeScanner
	if err := ts.Scan(42.0); err == nil {
		t.Error("Scan(42.0) succeeded")
	}
}

// TestIndexPlaceholders checks the arguments of the index statements, as
// their field comments document them.
func TestIndexPlaceholders(t *testing.T) {
	for _, d := range []Dialect{MySQL, SQLite} {
		st, err := New(d, Question, "sessions")
		if err != nil {
			t.Fatal(err)
		}
		ix := st.Index
		want := map[string]int{"Commit": 9, "CommitPlain": 8, "List": 2, "ListPlain": 2, "Count": 2, "CountPlain": 2,
			"Lock": 2, "LockPlain": 1, "Tombstones(4)": 6, "Delete(4)": 5, "BackfillPage": 3, "Backfill": 5}
		got := map[string]string{"Commit": ix.Commit, "CommitPlain": ix.CommitPlain, "List": ix.List, "ListPlain": ix.ListPlain,
			"Count": ix.Count, "CountPlain": ix.CountPlain, "Lock": ix.Lock, "LockPlain": ix.LockPlain,
			"Tombstones(4)": ix.Tombstones(4), "Delete(4)": ix.Delete(4), "BackfillPage": ix.BackfillPage, "Backfill": ix.Backfill}
		if d == MySQL {
			want["Owned"], got["Owned"] = 1, ix.Owned
			want["Claim(4)"], got["Claim(4)"] = 8, ix.Claim(4)
			want["Unclaim(4)"], got["Unclaim(4)"] = 5, ix.Unclaim(4)
		}
		for name, q := range got {
			if n := strings.Count(q, "?"); n != want[name] {
				t.Errorf("%v %s has %d parameters, want %d: %s", d, name, n, want[name], q)
			}
			if strings.Contains(strings.ToUpper(q), " LIKE ") {
				t.Errorf("%v %s uses LIKE: %s", d, name, q)
			}
		}
	}
}

func TestPad(t *testing.T) {
	for n, want := range map[int]int{0: 0, 1: 1, 2: 4, 4: 4, 5: 16, 17: 64, 256: 256} {
		in := make([]any, n)
		for i := range in {
			in[i] = i
		}
		out := pad(in)
		if len(out) != want || (n > 0 && out[len(out)-1] != n-1) {
			t.Errorf("pad(%d) = %d tokens ending %v, want %d", n, len(out), out, want)
		}
	}
}

// TestPostgresDDLOnly checks that PostgreSQL, whose stores run
// internal/pgcore, gets the DDL and no statement of the store's own.
func TestPostgresDDLOnly(t *testing.T) {
	st, err := New(Postgres, Dollar, "sessions")
	if err != nil {
		t.Fatal(err)
	}
	if len(st.CreateSessions) == 0 || len(st.CreateTombstones) == 0 || st.IndexSessions == "" ||
		st.Index.CreateOwnerIndex == "" || len(st.Index.AddColumns(IndexColumns)) != 1 {
		t.Errorf("PostgreSQL DDL missing: %+v", st)
	}
	for name, q := range map[string]string{"Find": st.Find, "Commit": st.Commit, "Delete": st.Delete, "All": st.All,
		"Page": st.Page, "ExpireSessions": st.ExpireSessions, "Index.Commit": st.Index.Commit, "Index.List": st.Index.List} {
		if q != "" {
			t.Errorf("PostgreSQL has %s: %s", name, q)
		}
	}
}

// TestReplaceOwnerIndex checks that MySQL's ReplaceOwnerIndex drops the
// owner index and adds it on the key CreateOwnerIndex gives it, in one
// statement run in place, and that no other dialect replaces its index.
func TestReplaceOwnerIndex(t *testing.T) {
	for _, d := range []Dialect{Postgres, MySQL, SQLite} {
		st, err := New(d, Question, "sessions")
		if err != nil {
			t.Fatal(err)
		}
		ix := st.Index
		cols := "(" + strings.Join(ix.OwnerIndexKey, ", ") + ")"
		if !strings.Contains(ix.CreateOwnerIndex, cols) {
			t.Errorf("%v: CreateOwnerIndex %q is not on OwnerIndexKey %v", d, ix.CreateOwnerIndex, ix.OwnerIndexKey)
		}
		if d != MySQL {
			if ix.ReplaceOwnerIndex != "" || ix.OwnerIndexColumns != "" {
				t.Errorf("%v replaces its owner index: %q, %q", d, ix.ReplaceOwnerIndex, ix.OwnerIndexColumns)
			}
			continue
		}
		want := "ALTER TABLE `sessions` DROP INDEX `sessions_owner_idx`, ADD INDEX `sessions_owner_idx` " +
			"(owner, expiry, last_seen, created, user_agent, ip), ALGORITHM=INPLACE, LOCK=NONE"
		if ix.ReplaceOwnerIndex != want {
			t.Errorf("ReplaceOwnerIndex = %q, want %q", ix.ReplaceOwnerIndex, want)
		}
		if !strings.Contains(ix.OwnerIndexColumns, "ORDER BY seq_in_index") {
			t.Errorf("OwnerIndexColumns does not read the key in order: %q", ix.OwnerIndexColumns)
		}
	}
}

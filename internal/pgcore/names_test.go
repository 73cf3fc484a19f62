package pgcore

import (
	"strings"
	"testing"
)

// TestParseTable: the names a store derives from its table, and the table
// names it refuses, with the store's name in the error.
func TestParseTable(t *testing.T) {
	n, err := ParseTable("pgstore", "app.sessions")
	if err != nil {
		t.Fatal(err)
	}
	want := Names{
		Sessions:               `"app"."sessions"`,
		Tombstones:             `"app"."sessions_tombstones"`,
		SessionsIdx:            `"sessions_expiry_idx"`,
		TombstonesIdx:          `"sessions_tombstones_expiry_idx"`,
		SessionsIdxQualified:   `"app"."sessions_expiry_idx"`,
		TombstonesIdxQualified: `"app"."sessions_tombstones_expiry_idx"`,
		OwnerIdx:               `"sessions_owner_idx"`,
		OwnerIdxQualified:      `"app"."sessions_owner_idx"`,
		Display:                "app.sessions",
		Cols:                   Columns{Token: "token", Data: "data", Expiry: "expiry", LastSeen: "last_seen"},
	}
	if n != want {
		t.Errorf("ParseTable(app.sessions) =\n%+v, want\n%+v", n, want)
	}
	if n, _ := ParseTable("pgstore", "Sessions"); n.Sessions != `"Sessions"` || n.SessionsIdxQualified != `"Sessions_expiry_idx"` {
		t.Errorf("ParseTable(Sessions) = %+v: the case is kept by quoting, the index unqualified", n)
	}
	for _, bad := range []string{"", "a.b.c", "1abc", "with space", `quo"te`, "semi;colon", "app.", ".sessions",
		strings.Repeat("a", MaxTableLen+1), "app." + strings.Repeat("a", MaxTableLen+1)} {
		if _, err := ParseTable("pgstore", bad); err == nil || !strings.HasPrefix(err.Error(), "pgstore: ") {
			t.Errorf("ParseTable(%q) = %v, want an error naming pgstore", bad, err)
		}
	}
	if _, err := ParseTable("pgstore", strings.Repeat("a", MaxTableLen)); err != nil {
		t.Errorf("a name of MaxTableLen bytes: %v", err)
	}
}

// TestTableNamesWhole: a whole name is one identifier, dots, quotes and
// dollars included, quoted as such; what PostgreSQL could not hold is
// refused.
func TestTableNamesWhole(t *testing.T) {
	n, err := TableNames("gorillastore", `my."odd".na$$me`, true, Columns{})
	if err != nil {
		t.Fatal(err)
	}
	if n.Sessions != `"my.""odd"".na$$me"` || n.Tombstones != `"my.""odd"".na$$me_tombstones"` ||
		n.SessionsIdxQualified != `"my.""odd"".na$$me_expiry_idx"` {
		t.Errorf("whole name: %+v", n)
	}
	for _, bad := range []string{"", "nul\x00", "bad\xffutf8", strings.Repeat("x", MaxTableLen+1)} {
		if _, err := TableNames("gorillastore", bad, true, Columns{}); err == nil {
			t.Errorf("TableNames(%q, whole) accepted", bad)
		}
	}
}

// TestColumns: column names are written unquoted, so only lower-case
// identifiers pass; a custom expiry column names the expiry indexes and
// shortens the longest table name accordingly.
func TestColumns(t *testing.T) {
	for _, bad := range []string{"Token", "token; DROP TABLE x", "tok-en", "1token", `"token"`} {
		if _, err := TableNames("pgstore", "sessions", false, Columns{Token: bad}); err == nil {
			t.Errorf("column %q accepted", bad)
		}
	}
	cols := Columns{Expiry: "expires_at", Created: "created_at", Modified: "updated_at", LastSeen: "updated_at"}
	n, err := TableNames("pgstore", "sessions", false, cols)
	if err != nil {
		t.Fatal(err)
	}
	if n.SessionsIdx != `"sessions_expires_at_idx"` || n.TombstonesIdx != `"sessions_tombstones_expires_at_idx"` {
		t.Errorf("indexes with expiry column expires_at: %s, %s", n.SessionsIdx, n.TombstonesIdx)
	}
	if got := n.indexColumns(); strings.Join(got, ",") != "owner,created,user_agent,ip" {
		t.Errorf("index columns with LastSeen = Modified: %v, want no column of its own for last seen", got)
	}
	limit := 63 - len("_tombstones_expires_at_idx")
	if _, err := TableNames("pgstore", strings.Repeat("a", limit), false, cols); err != nil {
		t.Errorf("a name of %d bytes: %v", limit, err)
	}
	if _, err := TableNames("pgstore", strings.Repeat("a", limit+1), false, cols); err == nil {
		t.Errorf("a name of %d bytes accepted: its tombstones' index name would pass 63 bytes", limit+1)
	}
}

func TestQuoteLiteral(t *testing.T) {
	for in, want := range map[string]string{
		"sessions":   `'sessions'`,
		"it's":       `'it''s'`,
		`back\slash`: `E'back\\slash'`,
		`'\`:         `E'''\\'`,
	} {
		if got := quoteLiteral(in); got != want {
			t.Errorf("quoteLiteral(%q) = %s, want %s", in, got, want)
		}
	}
}

// TestEnsureDollarTag: ensure's DO block is dollar-quoted with a tag its
// body does not contain, whatever the table's name holds.
func TestEnsureDollarTag(t *testing.T) {
	for name, tag := range map[string]string{"sessions": "$$", "a$$b": "$q0$", "a$$b$q0$c": "$q1$"} {
		n, err := TableNames("gorillastore", name, true, Columns{})
		if err != nil {
			t.Fatal(err)
		}
		q := ensure(n, sessionsDDL(n.Cols, ""), "")
		start := strings.Index(q, "DO "+tag)
		if start < 0 || !strings.HasSuffix(q, tag+";") {
			t.Fatalf("%s: ensure = %s, want it quoted with %s", name, q, tag)
		}
		body := strings.TrimSuffix(q[start+len("DO "+tag):], tag+";")
		if strings.Contains(body, tag) || !strings.Contains(body, n.Sessions) {
			t.Errorf("%s: the body holds its tag %s, or not the table: %s", name, tag, body)
		}
	}
}

// TestCompleteNamesBothIndexes: Migrate's probe looks for both tables and
// both expiry indexes, in the table's schema.
func TestCompleteNamesBothIndexes(t *testing.T) {
	n, err := ParseTable("pgstore", "app.sessions")
	if err != nil {
		t.Fatal(err)
	}
	q := BuildQueries(n).Complete
	for _, want := range []string{`'"app"."sessions"'`, `'"app"."sessions_expiry_idx"'`, `'"app"."sessions_tombstones"'`, `'"app"."sessions_tombstones_expiry_idx"'`} {
		if !strings.Contains(q, "to_regclass("+want+")") {
			t.Errorf("Complete = %s, lacks to_regclass(%s)", q, want)
		}
	}
}

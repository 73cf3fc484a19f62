package pgcore

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// MaxTableLen is the longest part of a table name (schema or table) that
// ParseTable accepts: it leaves room for the "_tombstones_expiry_idx"
// suffix within PostgreSQL's 63-byte identifier limit. A table whose
// expiry column has another name has its own limit (see TableNames).
const MaxTableLen = 63 - len("_tombstones_expiry_idx")

// identRE is what ParseTable accepts as one part of a table name.
var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// columnRE is what a column name must be: it is written into the
// statements unquoted.
var columnRE = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// Columns name the columns of a store's tables, where they differ from
// SCS's. An empty Token, Data, Expiry or LastSeen means SCS's name; an
// empty Serial, Created or Modified means the table has no such column.
// Each name must be a lower-case identifier: the statements use it
// unquoted.
type Columns struct {
	// Token, Data and Expiry are the session's columns ("token", "data",
	// "expiry"). The tombstone table has Token and Expiry.
	Token, Data, Expiry string
	// Serial, if set, is a BIGSERIAL primary key of the sessions table: a
	// table that Open or Migrate creates gets it first, with Token UNIQUE
	// NOT NULL instead of the primary key. The statements never name it.
	Serial string
	// Created and Modified, if set, are TIMESTAMPTZ NOT NULL columns of
	// the sessions table that every write stamps with the store's clock:
	// Modified on every Commit and Update, Created when Commit inserts the
	// row or replaces one that had expired.
	Created, Modified string
	// LastSeen is the per-user index's column of UserSession.LastSeen
	// ("last_seen"). It may be Modified, which every write stamps already;
	// the index then adds no column of its own for it.
	LastSeen string
}

// withDefaults returns c with SCS's names for its empty required fields.
func (c Columns) withDefaults() Columns {
	for _, f := range []struct {
		p   *string
		def string
	}{{&c.Token, "token"}, {&c.Data, "data"}, {&c.Expiry, "expiry"}, {&c.LastSeen, "last_seen"}} {
		if *f.p == "" {
			*f.p = f.def
		}
	}
	return c
}

// check returns an error for a name the statements cannot use.
func (c Columns) check() error {
	for _, name := range []string{c.Token, c.Data, c.Expiry, c.LastSeen, c.Serial, c.Created, c.Modified} {
		if name != "" && !columnRE.MatchString(name) {
			return fmt.Errorf("column %q: not a lower-case identifier", name)
		}
	}
	return nil
}

// Names are the quoted names of a store's tables and indexes, derived from
// its table name, and the names of their columns.
type Names struct {
	Sessions, Tombstones       string // quoted, possibly schema-qualified
	SessionsIdx, TombstonesIdx string // quoted, never qualified
	// SessionsIdxQualified and TombstonesIdxQualified are the expiry
	// indexes qualified as the tables are (an index lives in its table's
	// schema), for to_regclass.
	SessionsIdxQualified, TombstonesIdxQualified string
	OwnerIdx                                     string // quoted, never qualified
	OwnerIdxQualified                            string // quoted, qualified as the table is
	Display                                      string // as configured, for messages
	Cols                                         Columns
}

// ParseTable validates name, optionally schema-qualified ("app.sessions"),
// and derives the names of its tables and indexes. Each part must be a
// plain identifier of at most MaxTableLen bytes; it is quoted, so it keeps
// its case. prefix names the store in the error. The columns are SCS's.
func ParseTable(prefix, name string) (Names, error) {
	return TableNames(prefix, name, false, Columns{})
}

// TableNames is ParseTable for a table with the columns cols. With whole,
// name is one identifier, quoted as a whole, whatever its characters (a
// dot is then part of the name): any name of at most the maximum length
// but one holding a NUL byte or invalid UTF-8. The maximum leaves room for
// the tombstone table's expiry index, "_tombstones_<expiry>_idx", within
// PostgreSQL's 63-byte identifiers.
func TableNames(prefix, name string, whole bool, cols Columns) (Names, error) {
	if err := cols.check(); err != nil {
		return Names{}, fmt.Errorf("%s: %w", prefix, err)
	}
	cols = cols.withDefaults()
	maxLen := 63 - len("_tombstones_"+cols.Expiry+"_idx")
	parts := []string{name}
	if whole {
		if name == "" || len(name) > maxLen || strings.ContainsRune(name, 0) || !utf8.ValidString(name) {
			return Names{}, fmt.Errorf("%s: table %q: must be 1 to %d bytes of UTF-8 without NUL", prefix, name, maxLen)
		}
	} else {
		parts = strings.Split(name, ".")
		if len(parts) > 2 {
			return Names{}, fmt.Errorf("%s: table %q: at most one dot (schema.table)", prefix, name)
		}
		for _, p := range parts {
			if !identRE.MatchString(p) || len(p) > maxLen {
				return Names{}, fmt.Errorf("%s: table %q: each part must be letters, digits and underscores, at most %d bytes", prefix, name, maxLen)
			}
		}
	}
	base := parts[len(parts)-1]
	qualify := func(table string) string {
		if len(parts) == 2 {
			return quoteIdent(parts[0]) + "." + quoteIdent(table)
		}
		return quoteIdent(table)
	}
	return Names{
		Sessions:               qualify(base),
		Tombstones:             qualify(base + "_tombstones"),
		SessionsIdx:            quoteIdent(base + "_" + cols.Expiry + "_idx"),
		TombstonesIdx:          quoteIdent(base + "_tombstones_" + cols.Expiry + "_idx"),
		SessionsIdxQualified:   qualify(base + "_" + cols.Expiry + "_idx"),
		TombstonesIdxQualified: qualify(base + "_tombstones_" + cols.Expiry + "_idx"),
		OwnerIdx:               quoteIdent(base + "_owner_idx"),
		OwnerIdxQualified:      qualify(base + "_owner_idx"),
		Display:                name,
		Cols:                   cols,
	}, nil
}

// indexColumns are the columns the per-user index adds to the sessions
// table. They are nullable, so that adding them to an existing table
// rewrites nothing. LastSeen is among them unless it is Modified.
func (n Names) indexColumns() []string {
	if n.Cols.LastSeen == n.Cols.Modified {
		return []string{"owner", "created", "user_agent", "ip"}
	}
	return []string{"owner", "created", n.Cols.LastSeen, "user_agent", "ip"}
}

// replacer substitutes the names of n in a statement template: {t}, {tt}
// (the tables), {ti}, {tti}, {toi}, {toiq} (the indexes), {tok}, {data},
// {exp}, {ls}, {cre}, {mod} (the columns).
func (n Names) replacer() *strings.Replacer {
	return strings.NewReplacer("{t}", n.Sessions, "{tt}", n.Tombstones, "{ti}", n.SessionsIdx, "{tti}", n.TombstonesIdx,
		"{toi}", n.OwnerIdx, "{toiq}", n.OwnerIdxQualified,
		"{tok}", n.Cols.Token, "{data}", n.Cols.Data, "{exp}", n.Cols.Expiry, "{ls}", n.Cols.LastSeen,
		"{cre}", n.Cols.Created, "{mod}", n.Cols.Modified)
}

// quoteIdent quotes s as an SQL identifier.
func quoteIdent(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// quoteLiteral quotes s as an SQL string literal, whatever the server's
// standard_conforming_strings: a string with a backslash is written as an
// escape string (E'...'), where the backslash is doubled.
func quoteLiteral(s string) string {
	s = strings.ReplaceAll(s, "'", "''")
	if strings.Contains(s, `\`) {
		return `E'` + strings.ReplaceAll(s, `\`, `\\`) + "'"
	}
	return "'" + s + "'"
}

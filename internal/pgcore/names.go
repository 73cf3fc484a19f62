package pgcore

import (
	"fmt"
	"regexp"
	"strings"
)

// MaxTableLen is the longest part of a table name (schema or table) that
// ParseTable accepts: it leaves room for the "_tombstones_expiry_idx"
// suffix within PostgreSQL's 63-byte identifier limit.
const MaxTableLen = 63 - len("_tombstones_expiry_idx")

// identRE is what ParseTable accepts as one part of a table name.
var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Names are the quoted names of a store's tables and indexes, derived from
// its table name.
type Names struct {
	Sessions, Tombstones       string // quoted, possibly schema-qualified
	SessionsIdx, TombstonesIdx string // quoted, never qualified
	OwnerIdx                   string // quoted, never qualified
	OwnerIdxQualified          string // quoted, qualified as the table is
	Display                    string // as configured, for messages
}

// ParseTable validates name, optionally schema-qualified ("app.sessions"),
// and derives the names of its tables and indexes. Each part must be a
// plain identifier of at most MaxTableLen bytes; it is quoted, so it keeps
// its case. prefix names the store in the error.
func ParseTable(prefix, name string) (Names, error) {
	parts := strings.Split(name, ".")
	if len(parts) > 2 {
		return Names{}, fmt.Errorf("%s: table %q: at most one dot (schema.table)", prefix, name)
	}
	for _, p := range parts {
		if !identRE.MatchString(p) || len(p) > MaxTableLen {
			return Names{}, fmt.Errorf("%s: table %q: each part must be letters, digits and underscores, at most %d bytes", prefix, name, MaxTableLen)
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
		Sessions:          qualify(base),
		Tombstones:        qualify(base + "_tombstones"),
		SessionsIdx:       quoteIdent(base + "_expiry_idx"),
		TombstonesIdx:     quoteIdent(base + "_tombstones_expiry_idx"),
		OwnerIdx:          quoteIdent(base + "_owner_idx"),
		OwnerIdxQualified: qualify(base + "_owner_idx"),
		Display:           name,
	}, nil
}

// quoteIdent quotes s as an SQL identifier.
func quoteIdent(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// quoteLiteral quotes s as an SQL string literal. Table names are validated
// identifiers, so this only ever has to double single quotes defensively.
func quoteLiteral(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

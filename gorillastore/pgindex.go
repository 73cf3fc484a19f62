package gorillastore

import (
	"errors"
)

// The per-user index of a PGStore (PGConfig.Owner) is four nullable columns
// of the session table, written by the same statement as the session, so
// that the index lives and dies with the row (the PostgreSQL core's index,
// internal/pgcore, on this table):
//
//   - owner: the OwnerFunc's answer, NULL for "" (not indexed), under a
//     partial index WHERE owner IS NOT NULL. TEXT compared with =: byte for
//     byte under PostgreSQL's deterministic collations, no pattern.
//   - created: when the row was first written with its current owner
//     (UserSession.Created).
//   - user_agent, ip: those of the last Save whose context carried a
//     sessionstore.Client (Config.RecordClient); kept otherwise.
//
// UserSession.LastSeen is modified_on, which every Save already sets.
//
// With Owner nil none of this runs: the table keeps its columns and the
// statements never name them.

// errNoOwner is MigratePGStore's answer for a PGConfig without Owner.
var errNoOwner = errors.New("PGConfig.Owner is nil: there is no owner to index by")

package sqlstore

import (
	"context"
	"fmt"
	"strings"
)

// CheckTokenColumns returns an error if a token column of the store's
// tables compares strings other than byte by byte (MySQL and MariaDB: a
// PAD SPACE or case-insensitive collation, under which "abc" and "abc  "
// are one session). Missing tables are not an error. On other dialects it
// does nothing: PostgreSQL's and SQLite's TEXT compare bytes.
func CheckTokenColumns(ctx context.Context, conn Conn, st *Statements) error {
	if st.TokenColumns == "" {
		return nil
	}
	type column struct{ table, typ, charset, collation string }
	rows, err := conn.Query(ctx, st.TokenColumns)
	if err != nil {
		return err
	}
	var cols []column
	for rows.Next() {
		var c column
		if err := rows.Scan(&c.table, &c.typ, &c.charset, &c.collation); err != nil {
			rows.Close()
			return err
		}
		cols = append(cols, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, c := range cols {
		if c.collation == "" {
			if strings.EqualFold(c.typ, "varbinary") || strings.HasSuffix(strings.ToLower(c.typ), "blob") {
				continue // bytes, no padding
			}
		} else if exact, err := exactCollation(ctx, conn, c.charset, c.collation); err != nil {
			return err
		} else if exact {
			continue
		}
		return fmt.Errorf("the token column of %s (%s %s) does not compare bytes exactly, so \"abc\" and \"abc  \" "+
			"would be one session; run ALTER TABLE `%s` MODIFY token %s NOT NULL", c.table, c.typ, c.collation, c.table, MySQLTokenType)
	}
	return nil
}

// exactCollation reports whether collation tells apart 'a' from 'a ' and
// from 'A'.
func exactCollation(ctx context.Context, conn Conn, charset, collation string) (bool, error) {
	q, err := ExactProbe(charset, collation)
	if err != nil {
		return false, err
	}
	rows, err := conn.Query(ctx, q)
	if err != nil {
		return false, err
	}
	defer rows.Close()
	var pad, folds bool
	if rows.Next() {
		err = rows.Scan(&pad, &folds)
	}
	if err == nil {
		err = rows.Err()
	}
	return err == nil && !pad && !folds, err
}

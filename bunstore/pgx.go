package bunstore

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// pgxBatch is sqlstore.Module.Batch: on dc, a connection of pgx's
// database/sql driver (stdlib.Conn: Bun's pgdialect on sql.Open("pgx",
// dsn)), it sends first and query as one pgx batch, whose statements share
// one implicit transaction and one round trip. On any other driver connection
// it sends nothing and reports ok false.
func pgxBatch(ctx context.Context, dc any, first, query string, args []any) (n int64, ok bool, err error) {
	c, ok := dc.(interface{ Conn() *pgx.Conn })
	if !ok {
		return 0, false, nil
	}
	var batch pgx.Batch
	batch.Queue(first)
	batch.Queue(query, args...)
	br := c.Conn().SendBatch(ctx, &batch)
	if _, err := br.Exec(); err != nil {
		br.Close()
		return 0, true, err
	}
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return tag.RowsAffected(), true, err
}

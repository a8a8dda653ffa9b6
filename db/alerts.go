package db

import (
	"context"

	"github.com/jackc/pgx/v5/pgxpool"
)

// InTxIdempotentLimited is InTxLimited for work that recognises its own
// earlier result (an alert transition keyed by its episode): a commit
// whose outcome is unknown is retried too.
func (d *DB) InTxIdempotentLimited(ctx context.Context, lim Limits, fn Query) error {
	sql := lim.begin()
	return d.do(ctx, opIdempotentTx, func(ctx context.Context) error {
		return d.withConn(ctx, func(ctx context.Context, c *pgxpool.Conn) error {
			return InTx(ctx, limitedBeginner{c, sql}, fn)
		})
	})
}

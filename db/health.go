package db

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// SchemaStatus reports which of the required tables are missing and the
// newest migration goose recorded as applied.
func (d *DB) SchemaStatus(ctx context.Context, required []string) (missing []string, version int64, err error) {
	err = d.Read(ctx, func(ctx context.Context, q *Queries) (err error) {
		if missing, err = q.MissingTables(ctx, required); err != nil {
			return err
		}
		version, err = q.SchemaVersion(ctx)
		return err
	})
	return missing, version, err
}

// CheckConnect opens one new connection with cfg and pings it, within
// timeout. It answers "can a new connection be made this way?", which a
// pool's ping cannot while the pool still holds older connections: the
// health check uses it for DATABASE_URL when that goes through PgBouncer.
func CheckConnect(ctx context.Context, cfg Config, timeout time.Duration) (time.Duration, error) {
	pc, err := PoolConfig(cfg)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	cc := pc.ConnConfig
	hostSetFor(&cc.Config).prepareConnect(&cc.Config, func(hostEvent) {})
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return time.Since(start), markUnavailable(err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	err = conn.Ping(ctx)
	return time.Since(start), markUnavailable(err)
}

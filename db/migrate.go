package db

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations is the embedded goose migration set.
func Migrations() fs.FS {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		panic(err) // the embed pattern guarantees the directory
	}
	return sub
}

// MigrationStatus says where the schema stands.
type MigrationStatus struct {
	Current int64 `json:"current"`
	Latest  int64 `json:"latest"`
}

// Pending reports whether migrations are waiting to be applied.
func (s MigrationStatus) Pending() bool { return s.Current < s.Latest }

// Migrator applies and inspects migrations over its own database/sql
// connection: goose needs database/sql, and migrations may use session
// features that a PgBouncer in transaction mode would break, so it is
// opened on HRIS_DB_DIRECT_URL when one is given.
type Migrator struct {
	sqldb    *sql.DB
	provider *goose.Provider
}

// NewMigrator opens a migrator on url (a connection string).
func NewMigrator(cfg Config, log *slog.Logger) (*Migrator, error) {
	// A migration rewrites or indexes whole tables, which takes longer than
	// any page may: HRIS_DB_STATEMENT_TIMEOUT (30 s) stopped the search
	// index's build at a million employees. Migrations are an operator's
	// step, watched, so they run unbounded.
	cfg.StatementTimeout = 0
	pc, err := PoolConfig(cfg)
	if err != nil {
		return nil, err
	}
	hosts := hostSetFor(&pc.ConnConfig.Config)
	sqldb := stdlib.OpenDB(*pc.ConnConfig, stdlib.OptionBeforeConnect(func(_ context.Context, cc *pgx.ConnConfig) error {
		hosts.prepareConnect(&cc.Config, func(ev hostEvent) { logHostEvent(log, ev) })
		return nil
	}))
	sqldb.SetMaxOpenConns(2)
	// A table lock, not an advisory lock: it works through PgBouncer too and
	// keeps two instances started with --migrate from racing.
	locker, err := lock.NewPostgresTableLocker()
	if err != nil {
		sqldb.Close()
		return nil, err
	}
	opts := []goose.ProviderOption{goose.WithLocker(locker)}
	if log != nil {
		opts = append(opts, goose.WithSlog(log))
	}
	p, err := goose.NewProvider(goose.DialectPostgres, sqldb, Migrations(), opts...)
	if err != nil {
		sqldb.Close()
		return nil, fmt.Errorf("migrations: %w", err)
	}
	return &Migrator{sqldb: sqldb, provider: p}, nil
}

// Close releases the migrator's connections.
func (m *Migrator) Close() error { return m.sqldb.Close() }

// Up applies every pending migration and returns how many it applied.
func (m *Migrator) Up(ctx context.Context) (int, error) {
	res, err := m.provider.Up(ctx)
	if err != nil {
		return len(res), fmt.Errorf("migrations: %w", err)
	}
	return len(res), nil
}

// Status compares the database's version with the embedded migrations.
func (m *Migrator) Status(ctx context.Context) (MigrationStatus, error) {
	cur, latest, err := m.provider.GetVersions(ctx)
	if err != nil {
		return MigrationStatus{}, fmt.Errorf("migrations: %w", err)
	}
	return MigrationStatus{Current: cur, Latest: latest}, nil
}

// LatestVersion is the newest embedded migration.
func LatestVersion() int64 {
	entries, _ := fs.Glob(Migrations(), "*.sql")
	var v int64
	for _, e := range entries {
		var n int64
		if _, err := fmt.Sscanf(e, "%d_", &n); err == nil && n > v {
			v = n
		}
	}
	return v
}

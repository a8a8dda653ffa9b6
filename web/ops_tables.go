package web

import (
	"context"
	"net/http"
	"sync"
	"time"

	"hris/db"
	"hris/views/pages"
)

// /ops/tables: space and maintenance, after PgHero's space, maintenance
// and index pages. Each section is read on its own, concurrently and
// within the dashboard's limits: a table held by a migration makes the
// sizes (which lock each table for an instant) say so after a second,
// while the rest answers.

// Thresholds of the page.
const (
	maxTableRows = 50
	maxXIDRows   = 10
	// sequenceWarn: sequences past this share of their range are listed.
	sequenceWarn = 0.8
)

func (a *App) opsTableList(w http.ResponseWriter, r *http.Request) {
	var v pages.OpsTablesView
	var wg sync.WaitGroup
	for _, load := range []func(context.Context){
		func(ctx context.Context) { v.Sizes = a.tableSizes(ctx) },
		func(ctx context.Context) { v.Maintenance = a.tableMaintenance(ctx) },
		func(ctx context.Context) { v.XID = a.xidAges(ctx) },
		func(ctx context.Context) { v.Indexes = a.indexChecks(ctx) },
		func(ctx context.Context) { v.Sequences = a.sequenceChecks(ctx) },
	} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(r.Context(), opsLoadBudget)
			defer cancel()
			load(ctx)
		}()
	}
	wg.Wait()
	a.render(w, r, http.StatusOK, pages.OpsTables(a.page(r, "Tables", "ops"), v))
}

// tableSizes is the space section: sizes now, growth since the oldest
// daily capture of the last seven days.
func (a *App) tableSizes(ctx context.Context) (s pages.OpsSizes) {
	var (
		tables  []db.OpsTableSizesRow
		indexes []db.OpsIndexSizesRow
		base    []db.RelationSizesSinceRow
	)
	err := opsRead(ctx, a.opsDB, func(ctx context.Context, q *db.Queries) (err error) {
		if tables, err = q.OpsTableSizes(ctx, maxTableRows); err != nil {
			return err
		}
		if indexes, err = q.OpsIndexSizes(ctx, maxTableRows); err != nil {
			return err
		}
		base, err = q.RelationSizesSince(ctx, time.Now().UTC().AddDate(0, 0, -7))
		return err
	})
	if err != nil {
		s.Error = a.opsError("table sizes", err)
		return s
	}
	type key struct{ schema, name string }
	was := make(map[key]int64, len(base))
	for _, b := range base {
		was[key{b.SchemaName, b.Name}] = b.Bytes
		if s.GrowthSince.IsZero() || b.Day.Before(s.GrowthSince) {
			s.GrowthSince = b.Day
		}
	}
	if !s.GrowthSince.IsZero() {
		s.GrowthDays = int(time.Since(s.GrowthSince) / (24 * time.Hour))
	}
	for _, t := range tables {
		row := pages.OpsTableSize{Schema: t.SchemaName, Name: t.Name, TotalBytes: t.TotalBytes,
			TableBytes: t.TableBytes, IndexBytes: t.IndexBytes, RowsEstimate: t.RowsEstimate}
		if b, ok := was[key{t.SchemaName, t.Name}]; ok && s.GrowthDays > 0 {
			row.Growth, row.HaveGrowth = t.TotalBytes-b, true
		}
		s.Tables = append(s.Tables, row)
	}
	for _, i := range indexes {
		row := pages.OpsIndexSize{Schema: i.SchemaName, Name: i.Name, Table: i.TableName, Bytes: i.Bytes}
		if b, ok := was[key{i.SchemaName, i.Name}]; ok && s.GrowthDays > 0 {
			row.Growth, row.HaveGrowth = i.Bytes-b, true
		}
		s.Indexes = append(s.Indexes, row)
	}
	return s
}

func (a *App) tableMaintenance(ctx context.Context) (m pages.OpsMaintenance) {
	var rows []db.OpsTableMaintenanceRow
	err := opsRead(ctx, a.opsDB, func(ctx context.Context, q *db.Queries) (err error) {
		rows, err = q.OpsTableMaintenance(ctx, maxTableRows)
		return err
	})
	if err != nil {
		m.Error = a.opsError("table statistics", err)
		return m
	}
	for _, r := range rows {
		m.Tables = append(m.Tables, pages.OpsTableMaint{
			Schema: r.SchemaName, Name: r.Name, RowsEstimate: r.RowsEstimate,
			LiveRows: r.LiveRows, DeadRows: r.DeadRows, SeqScans: r.SeqScans, IdxScans: r.IdxScans,
			ModifiedSinceAnalyze: r.ModifiedSinceAnalyze,
			LastVacuum:           r.LastVacuum, LastAutovac: r.LastAutovacuum,
			LastAnalyze: r.LastAnalyze, LastAutoanl: r.LastAutoanalyze,
		})
	}
	return m
}

func (a *App) xidAges(ctx context.Context) (x pages.OpsXID) {
	var (
		d      db.OpsDatabaseXidAgeRow
		tables []db.OpsTableXidAgesRow
	)
	err := opsRead(ctx, a.opsDB, func(ctx context.Context, q *db.Queries) (err error) {
		if d, err = q.OpsDatabaseXidAge(ctx); err != nil {
			return err
		}
		tables, err = q.OpsTableXidAges(ctx, maxXIDRows)
		return err
	})
	if err != nil {
		x.Error = a.opsError("transaction id ages", err)
		return x
	}
	x.Database, x.Age, x.FreezeMaxAge = d.Database, d.XidAge, d.FreezeMaxAge
	for _, t := range tables {
		x.Tables = append(x.Tables, pages.OpsXIDTable{Schema: t.SchemaName, Name: t.Name, Age: t.XidAge})
	}
	return x
}

func (a *App) indexChecks(ctx context.Context) (ix pages.OpsIndexes) {
	var (
		d       db.OpsDatabaseXidAgeRow
		unused  []db.OpsUnusedIndexesRow
		dups    []db.OpsDuplicateIndexesRow
		invalid []db.OpsInvalidIndexesRow
	)
	err := opsRead(ctx, a.opsDB, func(ctx context.Context, q *db.Queries) (err error) {
		if d, err = q.OpsDatabaseXidAge(ctx); err != nil {
			return err
		}
		if unused, err = q.OpsUnusedIndexes(ctx, maxTableRows); err != nil {
			return err
		}
		if dups, err = q.OpsDuplicateIndexes(ctx, maxTableRows); err != nil {
			return err
		}
		invalid, err = q.OpsInvalidIndexes(ctx, maxTableRows)
		return err
	})
	if err != nil {
		ix.Error = a.opsError("index statistics", err)
		return ix
	}
	ix.StatsReset = d.StatsReset
	for _, u := range unused {
		ix.Unused = append(ix.Unused, pages.OpsIndexIssue{Schema: u.SchemaName, Table: u.TableName, Index: u.IndexName, Bytes: u.Bytes, DropSQL: u.DropSql})
	}
	seen := map[string]bool{}
	for _, d := range dups {
		// An index covered by several others is listed once.
		if k := d.SchemaName + "." + d.IndexName; !seen[k] {
			seen[k] = true
			ix.Duplicate = append(ix.Duplicate, pages.OpsIndexIssue{Schema: d.SchemaName, Table: d.TableName, Index: d.IndexName,
				Bytes: d.Bytes, Definition: d.Definition, CoveredBy: d.CoveringIndex, CoveringDefinition: d.CoveringDefinition, DropSQL: d.DropSql})
		}
	}
	for _, i := range invalid {
		ix.Invalid = append(ix.Invalid, pages.OpsIndexIssue{Schema: i.SchemaName, Table: i.TableName, Index: i.IndexName,
			Bytes: i.Bytes, Definition: i.Definition, BeingBuilt: i.BeingBuilt, DropSQL: i.DropSql})
	}
	return ix
}

func (a *App) sequenceChecks(ctx context.Context) (s pages.OpsSequences) {
	s.Threshold = sequenceWarn
	var rows []db.OpsSequencesRow
	err := opsRead(ctx, a.opsDB, func(ctx context.Context, q *db.Queries) (err error) {
		rows, err = q.OpsSequences(ctx, db.OpsSequencesParams{Threshold: sequenceWarn, MaxRows: maxTableRows})
		return err
	})
	if err != nil {
		s.Error = a.opsError("sequences", err)
		return s
	}
	for _, r := range rows {
		s.Rows = append(s.Rows, pages.OpsSequence{Schema: r.SchemaName, Name: r.Name, Table: r.TableName, Column: r.ColumnName,
			LastValue: r.LastValue, MaxValue: r.MaxValueUsed, Used: r.Used})
	}
	return s
}

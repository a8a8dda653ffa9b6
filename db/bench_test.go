package db_test

import (
	"testing"
	"time"

	"hris/db"
	"hris/db/dbtest"
)

// BenchmarkSamplerRecord is one tick of the pool sampler: pool.Stat() and a
// write into the ring under its lock.
func BenchmarkSamplerRecord(b *testing.B) {
	d := dbtest.Open(b)
	s := db.NewSampler(d.Pool, time.Second, 15*time.Minute)
	b.ReportAllocs()
	for b.Loop() {
		s.Record()
	}
}

package partials

import (
	"testing"
	"time"
)

func TestOpsFormatting(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{Seconds(0.42), "0.4 s"}, {Seconds(12.7), "12 s"}, {Seconds(245), "4 m 05 s"},
		{Seconds(7380), "2 h 03 m"}, {Seconds(3*86400 + 4*3600), "3 d 04 h"}, {Seconds(-1), "0.0 s"},
		{Span(time.Minute), "minute"}, {Span(15 * time.Minute), "15 min"}, {Span(37 * time.Second), "37 s"},
		{Span(90 * time.Second), "1 m 30 s"},
		{Rate(0.25), "0.2"}, {Rate(9.96), "10.0"}, {Rate(1234.4), "1,234"},
		{Bytes(512), "512 bytes"}, {Bytes(8192), "8.0 kB"}, {Bytes(9 * 1024 * 1024), "9.0 MB"}, {Bytes(300 << 30), "300 GB"},
		{Percent(0.99871), "99.87 %"}, {Millis(0.123), "0.12 ms"}, {Millis(3.44), "3.4 ms"}, {Millis(120.4), "120 ms"},
		{Short("SELECT  *\n  FROM t", 40), "SELECT * FROM t"}, {Short("abcdefghij", 5), "abcd…"},
		{BackendURL(42, "cancel"), "/ops/backends/42/cancel"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

func TestOpsSizingWords(t *testing.T) {
	z := OpsSizing{PerInstance: 22, MainPool: 20, OpsPool: 2, Instances: 1}
	if z.Breakdown() != "22 = 20 (HRIS_DB_MAX_CONNS) + 2 (ops pool)" || z.InstancesWord() != "instance" {
		t.Errorf("%q %q", z.Breakdown(), z.InstancesWord())
	}
	z = OpsSizing{PerInstance: 20, MainPool: 20, Instances: 4}
	if z.Breakdown() != "20 = 20 (HRIS_DB_MAX_CONNS)" || z.InstancesWord() != "instances" {
		t.Errorf("%q %q", z.Breakdown(), z.InstancesWord())
	}
}

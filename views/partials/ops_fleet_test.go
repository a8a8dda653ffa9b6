package partials

import (
	"strings"
	"testing"
)

func TestFleetAssess(t *testing.T) {
	cases := []struct {
		name                   string
		v                      OpsFleetView
		wantDemand             int32
		wantWarnings, mentions []string
	}{
		{
			name:       "direct, fits",
			v:          OpsFleetView{Live: 3, FleetMain: 60, FleetOps: 6, ServerMax: 100, Reserved: 3},
			wantDemand: 66,
		},
		{
			name:         "direct, the seed's too many connections",
			v:            OpsFleetView{Live: 5, FleetMain: 100, FleetOps: 10, ServerMax: 100, Reserved: 3},
			wantDemand:   110,
			wantWarnings: []string{"too many connections"},
			mentions:     []string{"110 connections", "accepts 97"},
		},
		{
			name:       "behind PgBouncer, pool plus ops pools too big for the server",
			v:          OpsFleetView{Live: 5, FleetMain: 100, FleetOps: 10, ServerMax: 100, Reserved: 3, PgBouncerPool: 100},
			wantDemand: 110 - 100 + 100,
			// 100 + 10 ops > 97: still warns about the server.
			wantWarnings: []string{"too many connections"},
		},
		{
			name:         "behind PgBouncer, fleet above its pool",
			v:            OpsFleetView{Live: 4, FleetMain: 80, FleetOps: 8, ServerMax: 100, Reserved: 3, PgBouncerPool: 40},
			wantDemand:   48,
			wantWarnings: []string{"queue in PgBouncer"},
			mentions:     []string{"80 connections to PgBouncer", "pool of 40"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := c.v
			v.Assess()
			if v.ServerDemand != c.wantDemand {
				t.Errorf("server demand %d, want %d", v.ServerDemand, c.wantDemand)
			}
			if len(v.Warnings) != len(c.wantWarnings) {
				t.Fatalf("warnings %q, want %d", v.Warnings, len(c.wantWarnings))
			}
			all := strings.Join(v.Warnings, " ")
			for _, w := range append(c.wantWarnings, c.mentions...) {
				if !strings.Contains(all, w) {
					t.Errorf("warnings %q lack %q", v.Warnings, w)
				}
			}
		})
	}
}

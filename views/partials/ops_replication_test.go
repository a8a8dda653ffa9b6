package partials

import (
	"strings"
	"testing"
)

// The replication panel warns about what can lose writes or fill a disk.
func TestOpsReplicationWarnings(t *testing.T) {
	for _, c := range []struct {
		name string
		v    OpsReplicationView
		want []string // one substring per expected warning, in order
	}{
		{"primary alone", OpsReplicationView{SyncCommit: "on"}, []string{"No synchronous standby"}},
		{"synchronous standby", OpsReplicationView{SyncCommit: "on", Standbys: []OpsStandby{{Name: "s1", State: "streaming", SyncState: "sync"}}}, nil},
		{"commits do not wait", OpsReplicationView{SyncCommit: "local", Standbys: []OpsStandby{{Name: "s1", State: "streaming", SyncState: "sync"}}}, []string{"synchronous_commit is local"}},
		{"standby catching up", OpsReplicationView{SyncCommit: "on", Standbys: []OpsStandby{{Name: "s1", State: "catchup", SyncState: "async"}}}, []string{"s1 is catchup", "No synchronous standby"}},
		{"forgotten slot", OpsReplicationView{SyncCommit: "on", Standbys: []OpsStandby{{State: "streaming", SyncState: "quorum"}}, Slots: []OpsSlot{{Name: "old", RetainedBytes: 3 << 30}, {Name: "live", Active: true, RetainedBytes: 3 << 30}}}, []string{"Slot old is inactive and holds back 3.0 GB"}},
		{"reading a standby", OpsReplicationView{Standby: true, WritesTo: "db2:5432", Receiver: &OpsReceiver{}}, []string{"connected to a standby", "not receiving WAL"}},
	} {
		c.v.Assess()
		if len(c.v.Warnings) != len(c.want) {
			t.Errorf("%s: warnings %q, want %d", c.name, c.v.Warnings, len(c.want))
			continue
		}
		for i, w := range c.want {
			if !strings.Contains(c.v.Warnings[i], w) {
				t.Errorf("%s: warning %d is %q, want it to say %q", c.name, i, c.v.Warnings[i], w)
			}
		}
	}
}

func TestOpsHostAndFailoverWords(t *testing.T) {
	if s := (OpsHost{State: "ok", Primary: true}).StateText(); s != "primary: hris writes here" {
		t.Errorf("primary host: %q", s)
	}
	if s := (OpsHost{State: "down", Reason: "no answer"}).StateText(); s != "given up: no answer" {
		t.Errorf("down host: %q", s)
	}
	if s := (OpsFailover{FromTimeline: 1, ToTimeline: 2}).Timelines(); s != "1 → 2" {
		t.Errorf("timelines %q", s)
	}
	if s := (OpsFailover{FromTimeline: 3, ToTimeline: 3}).Timelines(); s != "3" {
		t.Errorf("same timeline %q", s)
	}
}

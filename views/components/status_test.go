package components

import (
	"context"
	"strings"
	"testing"
)

// TestStatusBadge: the badges rendered once are what the template renders,
// and an unknown status still gets one, escaped.
func TestStatusBadge(t *testing.T) {
	for _, s := range append(EmployeeStatuses, Option{Value: "<retired>"}) {
		var got, want strings.Builder
		if err := StatusBadge(s.Value).Render(context.Background(), &got); err != nil {
			t.Fatal(err)
		}
		if err := statusBadge(s.Value).Render(context.Background(), &want); err != nil {
			t.Fatal(err)
		}
		if got.String() != want.String() {
			t.Errorf("%s: %s, want %s", s.Value, got.String(), want.String())
		}
	}
	var b strings.Builder
	_ = StatusBadge("on_leave").Render(context.Background(), &b)
	if b.String() != `<span class="badge warn">on leave</span>` {
		t.Errorf("on_leave: %s", b.String())
	}
	b.Reset()
	_ = StatusBadge("<retired>").Render(context.Background(), &b)
	if strings.Contains(b.String(), "<retired>") {
		t.Errorf("an unknown status is not escaped: %s", b.String())
	}
}

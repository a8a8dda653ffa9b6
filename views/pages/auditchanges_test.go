package pages

import (
	"reflect"
	"testing"
)

func TestAuditRowChanges(t *testing.T) {
	for _, c := range []struct {
		name          string
		before, after string
		want          []FieldChange
	}{
		{"update", `{"id": 1, "version": 1, "job_title": "Analyst", "email": "a@x.test", "manager_id": null}`,
			`{"id": 1, "version": 2, "job_title": "Lead", "email": "a@x.test", "manager_id": 7}`,
			[]FieldChange{{"job_title", "Analyst", "Lead"}, {"manager_id", "", "7"}}},
		{"create", "", `{"id": 3, "name": "Legal", "tags": ["a", "b"], "note": null}`,
			[]FieldChange{{"name", "", "Legal"}, {"tags", "", `["a","b"]`}}},
		{"delete", `{"name": "Legal"}`, "", []FieldChange{{"name", "Legal", ""}}},
		{"not an object", `"text"`, `[1]`, nil},
		{"nothing", "", "", nil},
	} {
		got := AuditRow{Before: c.before, After: c.after}.Changes()
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
	r := AuditRow{Before: `{"a_b": 1, "c": 1, "d": 1, "e": 1, "f": 1}`, After: `{}`}
	if got := changedFields(r.Changes()); got != "a b, c, d, e, …" {
		t.Errorf("changedFields %q", got)
	}
}

// TestAuditValue covers the shortcuts past the JSON decoder: they must
// show what the decoder would.
func TestAuditValue(t *testing.T) {
	for in, want := range map[string]string{
		``:                          "",
		`null`:                      "",
		`"Analyst"`:                 "Analyst",
		`""`:                        "",
		`"say \"hi\""`:              `say "hi"`,
		`"caf\u00e9 \\ x"`:          `café \ x`,
		`"<b>"`:                     "<b>",
		`7`:                         "7",
		`-12.5`:                     "-12.5",
		`true`:                      "true",
		"[\n  \"a\",\n  \"b\"\n]":   `["a","b"]`,
		"{\n  \"k\": {\"x\": 1}\n}": `{"k":{"x":1}}`,
	} {
		if got := auditValue([]byte(in)); got != want {
			t.Errorf("auditValue(%q) = %q, want %q", in, got, want)
		}
	}
}

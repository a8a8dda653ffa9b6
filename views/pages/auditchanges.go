package pages

import (
	"bytes"
	"encoding/json"
	"sort"
	"strings"
)

// FieldChange is one field of a record as an audit entry saw it before and
// after the change.
type FieldChange struct {
	Field  string
	Before string
	After  string
}

// auditNoise are fields every change touches or no one reads in a summary.
var auditNoise = map[string]bool{"id": true, "version": true}

// Changes lists the fields an entry changed, in name order: for an update
// the fields whose values differ, for a create or a delete the fields that
// have a value. Entries whose JSON is not an object give none.
func (r AuditRow) Changes() []FieldChange {
	before, okB := auditObject(r.Before)
	after, okA := auditObject(r.After)
	if !okB && !okA {
		return nil
	}
	keys := map[string]bool{}
	for k := range before {
		keys[k] = true
	}
	for k := range after {
		keys[k] = true
	}
	var out []FieldChange
	for k := range keys {
		if auditNoise[k] {
			continue
		}
		b, a := auditValue(before[k]), auditValue(after[k])
		if b == a {
			continue
		}
		out = append(out, FieldChange{Field: k, Before: b, After: a})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Field < out[j].Field })
	return out
}

// changedFields names the changed fields for the collapsed line.
func changedFields(changes []FieldChange) string {
	var names []string
	for _, c := range changes {
		names = append(names, strings.ReplaceAll(c.Field, "_", " "))
	}
	if len(names) > 4 {
		names = append(names[:4], "…")
	}
	return strings.Join(names, ", ")
}

func auditObject(s string) (map[string]json.RawMessage, bool) {
	if s == "" {
		return nil, false
	}
	var m map[string]json.RawMessage
	if json.Unmarshal([]byte(s), &m) != nil {
		return nil, false
	}
	return m, true
}

// auditValue shows a JSON value: strings without quotes, null and absent
// as "", anything else as compact JSON. The audit log shows hundreds of
// values a page, so the common cases skip the decoder: a string without
// escapes is its bytes between the quotes, a number or true is itself.
func auditValue(v json.RawMessage) string {
	switch {
	case len(v) == 0 || string(v) == "null":
		return ""
	case len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' && !bytes.ContainsAny(v[1:len(v)-1], `\"`):
		return string(v[1 : len(v)-1])
	case v[0] == '"':
		var s string
		if json.Unmarshal(v, &s) == nil {
			return s
		}
	case v[0] == '{' || v[0] == '[':
		var b bytes.Buffer
		if json.Compact(&b, v) == nil {
			return b.String()
		}
	}
	return string(v)
}

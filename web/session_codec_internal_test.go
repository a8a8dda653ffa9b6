package web

import (
	"reflect"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
)

// TestSessionCodec: what hris keeps in a session round-trips in its own
// format; other values, and sessions stored with gob by earlier releases,
// still decode; damaged data is an error, not a panic or a half session.
func TestSessionCodec(t *testing.T) {
	deadline := time.Date(2026, 11, 29, 14, 30, 0, 123, time.UTC)
	c := sessionCodec{}
	for _, values := range []map[string]any{
		{},
		{sessionUserID: int64(42)},
		{sessionUserID: int64(-7), "flash": "Employee “Ada” saved.", "flash_kind": "success", "": ""},
	} {
		b, err := c.Encode(deadline, values)
		if err != nil {
			t.Fatal(err)
		}
		if string(b[:len(sessionMagic)]) != string(sessionMagic) {
			t.Errorf("%v: not in hris's format", values)
		}
		d, got, err := c.Decode(b)
		if err != nil || !d.Equal(deadline) || !reflect.DeepEqual(got, values) {
			t.Errorf("round trip of %v: %v %v %v", values, d, got, err)
		}
		// Every cut of it is refused.
		for i := len(sessionMagic); i < len(b); i++ {
			if _, _, err := c.Decode(b[:i]); err == nil {
				t.Errorf("%v cut at %d of %d bytes: decoded", values, i, len(b))
			}
		}
	}

	// Another kind of value: stored with gob, read back.
	other := map[string]any{sessionUserID: int64(1), "remember": true}
	b, err := c.Encode(deadline, other)
	if err != nil {
		t.Fatal(err)
	}
	if _, got, err := c.Decode(b); err != nil || !reflect.DeepEqual(got, other) {
		t.Errorf("gob fallback: %v %v", got, err)
	}

	// A session an earlier release stored with gob.
	old, err := scs.GobCodec{}.Encode(deadline, map[string]any{sessionUserID: int64(9), "flash": "hi"})
	if err != nil {
		t.Fatal(err)
	}
	if d, got, err := c.Decode(old); err != nil || !d.Equal(deadline) || got[sessionUserID] != int64(9) || got["flash"] != "hi" {
		t.Errorf("gob session: %v %v %v", d, got, err)
	}

	if _, _, err := c.Decode(append(append([]byte{}, sessionMagic...), 0, 1, 1, 'k', 9)); err == nil {
		t.Error("an unknown value type decoded")
	}
}

func BenchmarkSessionCodec(b *testing.B) {
	values := map[string]any{sessionUserID: int64(42)}
	deadline := time.Now()
	for _, c := range []struct {
		name  string
		codec scs.Codec
	}{{"hris", sessionCodec{}}, {"gob", scs.GobCodec{}}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				enc, _ := c.codec.Encode(deadline, values)
				if _, _, err := c.codec.Decode(enc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

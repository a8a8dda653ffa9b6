package components

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestSparklineLine(t *testing.T) {
	s := Spark{Values: []float64{0, 5, 10}}
	// top = 10 * 1.1 = 11; y = 1.5 + 37 * (1 - v/11)
	want := "M0 38.5L60 21.68L120 4.86"
	if got := s.Line(); got != want {
		t.Errorf("Line() = %q, want %q", got, want)
	}
	if got := s.Area(); got != want+"L120 40L0 40Z" {
		t.Errorf("Area() = %q", got)
	}
}

func TestSparklineLimitSetsTheScale(t *testing.T) {
	s := Spark{Values: []float64{2, 4}, Limit: 20}
	// The limit is the top value: it sits a tenth below the chart's top,
	// and the values stay low.
	if got, want := s.LimitY(), "4.86"; got != want {
		t.Errorf("LimitY() = %s, want %s", got, want)
	}
	if got, want := s.Line(), "M0 35.14L120 31.77"; got != want {
		t.Errorf("Line() = %q, want %q", got, want)
	}
}

func TestSparklineEdgeCases(t *testing.T) {
	if (Spark{}).Line() != "" || (Spark{}).Area() != "" {
		t.Error("no values must draw nothing")
	}
	if got := (Spark{Values: []float64{0, 0, 0}}).Line(); got != "M0 38.5L60 38.5L120 38.5" {
		t.Errorf("all zeros: %q, want a flat line at the bottom", got)
	}
	if got := (Spark{Values: []float64{3}}).Line(); got != "M0 4.86H120" {
		t.Errorf("one value: %q, want a flat line across", got)
	}
	if got := (Spark{Values: []float64{-1, 1}}).Line(); !strings.HasPrefix(got, "M0 38.5") {
		t.Errorf("negative values must be clamped to the bottom: %q", got)
	}
}

func TestSparklineRenders(t *testing.T) {
	var buf bytes.Buffer
	err := Sparkline(Spark{Values: []float64{1, 2, 3}, Limit: 4, Label: "acquired <conns>"}).Render(context.Background(), &buf)
	if err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{`<svg class="spark" viewBox="0 0 120 40"`, `preserveAspectRatio="none"`, `class="line"`, `class="area"`, `class="limit"`, `aria-label="acquired &lt;conns&gt;"`} {
		if !strings.Contains(out, want) {
			t.Errorf("rendered sparkline lacks %s:\n%s", want, out)
		}
	}
}

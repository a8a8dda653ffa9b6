package components

import (
	"strconv"
	"strings"
)

// Spark is a small line chart drawn as inline SVG: no script, no library.
// The chart stretches to its box (preserveAspectRatio="none"); strokes keep
// their width through vector-effect in the stylesheet.
type Spark struct {
	Values []float64
	// Limit, when above zero, is drawn as a dashed line (a pool's maximum)
	// and the scale always reaches it.
	Limit float64
	// Label describes the chart for screen readers.
	Label string
}

// The chart's own coordinate system; the viewBox is 0 0 SparkWidth SparkHeight.
const (
	SparkWidth  = 120.0
	SparkHeight = 40.0
	// sparkPad keeps a line at the very top or bottom from being cut in half.
	sparkPad = 1.5
)

// ViewBox is the SVG viewBox attribute.
func (s Spark) ViewBox() string {
	return "0 0 " + num(SparkWidth) + " " + num(SparkHeight)
}

// top is the value at the top of the chart: the largest value or the
// limit, with a tenth of headroom, and never zero.
func (s Spark) top() float64 {
	top := s.Limit
	for _, v := range s.Values {
		top = max(top, v)
	}
	if top <= 0 {
		return 1
	}
	return top * 1.1
}

// y maps a value to the chart's vertical coordinate (0 is the top).
func (s Spark) y(v, top float64) float64 {
	v = min(max(v, 0), top)
	return sparkPad + (SparkHeight-2*sparkPad)*(1-v/top)
}

func (s Spark) x(i int) float64 {
	if len(s.Values) < 2 {
		return SparkWidth * float64(i)
	}
	return SparkWidth * float64(i) / float64(len(s.Values)-1)
}

// Line is the path of the values ("" when there are none). A single value
// is drawn as a flat line across the chart.
func (s Spark) Line() string {
	if len(s.Values) == 0 {
		return ""
	}
	top := s.top()
	var b strings.Builder
	b.Grow(len(s.Values) * 12)
	if len(s.Values) == 1 {
		y := num(s.y(s.Values[0], top))
		return "M0 " + y + "H" + num(SparkWidth)
	}
	for i, v := range s.Values {
		if i == 0 {
			b.WriteString("M")
		} else {
			b.WriteString("L")
		}
		b.WriteString(num(s.x(i)))
		b.WriteByte(' ')
		b.WriteString(num(s.y(v, top)))
	}
	return b.String()
}

// Area is Line closed along the bottom edge, for the shaded fill.
func (s Spark) Area() string {
	line := s.Line()
	if line == "" {
		return ""
	}
	h := num(SparkHeight)
	return line + "L" + num(SparkWidth) + " " + h + "L0 " + h + "Z"
}

// LimitY is the vertical coordinate of the limit line.
func (s Spark) LimitY() string { return num(s.y(s.Limit, s.top())) }

// num formats a coordinate with at most two decimals, without trailing zeros.
func num(f float64) string {
	return strconv.FormatFloat(float64(int64(f*100+0.5))/100, 'f', -1, 64)
}

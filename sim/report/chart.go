package report

import (
	"fmt"
	"math"
	"strings"
)

// palette colours the series of a chart, in order.
var palette = []string{"#2563eb", "#ea580c", "#16a34a", "#dc2626", "#9333ea", "#0891b2", "#ca8a04", "#db2777", "#4b5563",
	"#65a30d", "#7c2d12", "#1e3a8a", "#a21caf", "#0f766e"}

func colour(i int) string { return palette[i%len(palette)] }

// chart is one line chart as the template draws it in SVG: every
// coordinate computed here, every text escaped by the template.
type chart struct {
	ID, Title, Note string
	YLabel          string
	Width, Height   float64
	Left, Top       float64
	PlotW, PlotH    float64
	Right           float64 // Left + PlotW
	XTicks, YTicks  []tick
	Series          []line
	Refs            []line
	// Empty says no series has a value to draw.
	Empty bool
}

type tick struct {
	X, Y  float64
	Label string
}

// line is a drawn series or reference line.
type line struct {
	Name, Colour, Dash string
	Width              float64
	Path               string
	// LabelX, LabelY place a reference line's name.
	LabelX, LabelY float64
}

// series is the data of one line: one value per period, NaN for none.
type series struct {
	name, colour, dash string
	width              float64
	values             []float64
}

// reference is a horizontal line at Y over the whole chart.
type reference struct {
	name, colour string
	y            float64
}

// Chart geometry, in SVG user units.
const (
	chartWidth  = 760
	chartHeight = 260
	plotLeft    = 58
	plotTop     = 14
	plotRight   = 32
	plotBottom  = 34
	maxXTicks   = 12
	yTickCount  = 5
)

// newChart lays out series over the periods labelled labels; yFormat
// writes the y axis' ticks and yMin is the least top of the axis.
func newChart(id, title, yLabel string, labels []string, data []series, refs []reference, yFormat func(float64) string, yMin float64) chart {
	c := chart{
		ID: id, Title: title, YLabel: yLabel,
		Width: chartWidth, Height: chartHeight, Left: plotLeft, Top: plotTop,
		PlotW: chartWidth - plotLeft - plotRight, PlotH: chartHeight - plotTop - plotBottom,
		Empty: true,
	}
	c.Right = c.Left + c.PlotW
	top, bottom := yMin, 0.0
	for _, s := range data {
		for _, v := range s.values {
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				top, bottom = max(top, v), min(bottom, v)
				c.Empty = false
			}
		}
	}
	for _, r := range refs {
		top = max(top, r.y)
	}
	// Ticks at multiples of a round step, through 0.
	step := niceCeil((top - bottom) / yTickCount)
	top = math.Ceil(top/step-1e-9) * step
	bottom = math.Floor(bottom/step+1e-9) * step
	if bottom < 0 {
		refs = append(refs, reference{name: "0", colour: "#9ca3af", y: 0})
	}
	n := len(labels)
	x := func(i int) float64 { return c.Left + (float64(i)+0.5)*c.PlotW/float64(max(n, 1)) }
	y := func(v float64) float64 { return c.Top + c.PlotH*(top-v)/(top-bottom) }
	for k := 0; bottom+float64(k)*step <= top+step*1e-9; k++ {
		v := bottom + float64(k)*step
		if math.Abs(v) < step*1e-9 {
			v = 0
		}
		c.YTicks = append(c.YTicks, tick{X: c.Left, Y: y(v), Label: yFormat(v)})
	}
	every := (n + maxXTicks - 1) / maxXTicks
	for i := 0; i < n; i += max(every, 1) {
		c.XTicks = append(c.XTicks, tick{X: x(i), Y: c.Top + c.PlotH, Label: labels[i]})
	}
	for _, s := range data {
		c.Series = append(c.Series, line{Name: s.name, Colour: s.colour, Dash: s.dash, Width: max(s.width, 2), Path: path(s.values, x, y)})
	}
	for _, r := range refs {
		c.Refs = append(c.Refs, line{
			Name: r.name, Colour: r.colour, Dash: "6 4", Width: 1.5,
			Path:   fmt.Sprintf("M%.1f %.1fH%.1f", c.Left, y(r.y), c.Left+c.PlotW),
			LabelX: c.Left + c.PlotW - 4, LabelY: y(r.y) - 4,
		})
	}
	return c
}

// path draws values as a polyline broken where a value is missing; an
// isolated value is a dot (with round caps).
func path(values []float64, x func(int) float64, y func(float64) float64) string {
	var b strings.Builder
	drawing := false
	for i, v := range values {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			drawing = false
			continue
		}
		cmd := "L"
		if !drawing {
			cmd = "M"
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
		}
		fmt.Fprintf(&b, "%s%.1f %.1f", cmd, x(i), y(v))
		if !drawing && (i+1 >= len(values) || math.IsNaN(values[i+1]) || math.IsInf(values[i+1], 0)) {
			b.WriteString("h0.01")
		}
		drawing = true
	}
	return b.String()
}

// niceCeil rounds v up to 1, 2, 2.5 or 5 times a power of ten (1 for v <= 0).
func niceCeil(v float64) float64 {
	if !(v > 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if v <= m*p*(1+1e-9) {
			return m * p
		}
	}
	return 10 * p
}

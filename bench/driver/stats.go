package main

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// sample is a set of measurements of one quantity, in one unit.
type sample []float64

// quantile is the nearest-rank q-quantile (0.5 the median, 0.99 the p99); NaN when empty.
func (s sample) quantile(q float64) float64 {
	if len(s) == 0 {
		return math.NaN()
	}
	sorted := slices.Sorted(slices.Values(s))
	rank := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(rank, 0), len(sorted)-1)]
}

func (s sample) median() float64 { return s.quantile(0.5) }

func (s sample) min() float64 {
	if len(s) == 0 {
		return math.NaN()
	}
	return slices.Min(s)
}

func (s sample) max() float64 {
	if len(s) == 0 {
		return math.NaN()
	}
	return slices.Max(s)
}

// durations formats nanoseconds in the unit that suits them: "812 µs", "1.23 ms", "2.41 s".
func dur(ns float64) string {
	if math.IsNaN(ns) {
		return "–"
	}
	d := time.Duration(ns)
	switch a := d.Abs(); {
	case a < time.Microsecond:
		return fmt.Sprintf("%.0f ns", ns)
	case a < 100*time.Microsecond:
		return fmt.Sprintf("%.1f µs", ns/1e3)
	case a < time.Millisecond:
		return fmt.Sprintf("%.0f µs", ns/1e3)
	case a < 100*time.Millisecond:
		return fmt.Sprintf("%.2f ms", ns/1e6)
	case a < time.Second:
		return fmt.Sprintf("%.0f ms", ns/1e6)
	default:
		return fmt.Sprintf("%.2f s", ns/1e9)
	}
}

// durRange is "min–max" of s in dur's units.
func durRange(s sample) string { return dur(s.min()) + " – " + dur(s.max()) }

// mib formats bytes in MiB.
func mib(bytes float64) string {
	if math.IsNaN(bytes) {
		return "–"
	}
	return fmt.Sprintf("%.2f MiB", bytes/(1<<20))
}

// ratio is a/b as "1.23×", or "–" when it has no meaning.
func ratio(a, b float64) string {
	if math.IsNaN(a) || math.IsNaN(b) || b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

// count formats a number of things without decimals.
func count(n float64) string {
	if math.IsNaN(n) {
		return "–"
	}
	return fmt.Sprintf("%.0f", n)
}

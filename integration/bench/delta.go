package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"time"
)

// delta is what a row costs over its base row for one runtime: the median
// of the per-iteration differences (row - base, same runtime, same
// iteration) with a distribution-free ~95% confidence interval of that
// median. The two samples of a pair are taken seconds apart, so pairing
// cancels most of the load drift a difference of medians would keep; the
// interval says whether a 1 ms target can be judged on this machine at all.
type delta struct {
	ok          bool
	med, lo, hi time.Duration
}

// pairedDelta needs both rows valid for the runtime; then each holds one
// sample per timed iteration, in iteration order.
func pairedDelta(rs, bs summary, row, base []sample) delta {
	if !rs.ok || !bs.ok || len(row) != len(base) {
		return delta{}
	}
	d := make([]time.Duration, len(row))
	for k := range row {
		d[k] = row[k].wall - base[k].wall
	}
	slices.Sort(d)
	k := medianCIRank(len(d))
	return delta{ok: true, med: median(d), lo: d[k], hi: d[len(d)-1-k]}
}

// medianCIRank is the 0-based rank k such that [x(k), x(n-1-k)] of n
// sorted independent samples covers the median with probability >= 95%:
// the count of samples below the median is Binomial(n, 1/2), and the
// interval misses it only if that count is <= k or >= n-k, so k is the
// largest with P(X <= k) <= 2.5%. For n = 20, k = 5 (P(X <= 5) = 2.07%,
// coverage 95.9%). Up to n = 6 the interval is the full range.
func medianCIRank(n int) int {
	k, cdf := -1, 0.0
	for i := 0; i < n; i++ {
		cdf += math.Exp(lnChoose(n, i) - float64(n)*math.Ln2)
		if cdf > 0.025 {
			break
		}
		k = i
	}
	return max(k, 0)
}

func lnChoose(n, k int) float64 {
	a, _ := math.Lgamma(float64(n + 1))
	b, _ := math.Lgamma(float64(k + 1))
	c, _ := math.Lgamma(float64(n - k + 1))
	return a - b - c
}

// verdict judges gocker's delta against the row's target: met when the
// whole interval is within it, MISSED when the whole interval is above
// it, and otherwise inconclusive (the noise is larger than the question).
func verdict(d delta, targetMs float64) string {
	switch {
	case !d.ok:
		return "no gocker delta"
	case msf(d.hi) <= targetMs:
		return "met"
	case msf(d.lo) > targetMs:
		return "MISSED"
	}
	return "inconclusive (interval spans it)"
}

func msf(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func (d delta) String() string {
	if !d.ok {
		return "FAILED"
	}
	return fmt.Sprintf("%+.1f [%+.1f..%+.1f]", msf(d.med), msf(d.lo), msf(d.hi))
}

// printDeltas prints one line per row that has a base.
func (b *bench) printDeltas(w io.Writer, res [][]result) {
	fmt.Fprintf(w, "\ndeltas vs base row: ms, median of per-iteration (row - base) [~95%% CI of that median]\n")
	fmt.Fprintf(w, "%-36s", "row")
	for _, rt := range b.runtimes {
		fmt.Fprintf(w, " %20s", rt.name)
	}
	fmt.Fprintln(w, "   base; gocker target")
	g := b.index("gocker")
	for i, r := range b.rows {
		if r.base == "" {
			continue
		}
		bi := rowIndex(b.rows, r.base)
		fmt.Fprintf(w, "%-36s", r.name)
		var gd delta
		for j := range b.runtimes {
			d := pairedDelta(b.valid(res, i, j), b.valid(res, bi, j), res[i][j].samples, res[bi][j].samples)
			fmt.Fprintf(w, " %20s", d)
			if j == g {
				gd = d
			}
		}
		fmt.Fprintf(w, "   vs %q", r.base)
		if r.target > 0 {
			fmt.Fprintf(w, "; <= %.1f ms: %s", r.target, verdict(gd, r.target))
		}
		fmt.Fprintln(w)
	}
}

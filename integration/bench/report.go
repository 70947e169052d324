package main

import (
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
	"time"
)

// summary is the medians of one row for one runtime; ok is false when the
// runtime has no sample for the row.
type summary struct {
	ok               bool
	n                int
	wall, wMin, wMax time.Duration
	rssKiB           int64
}

func summarize(samples []sample) summary {
	if len(samples) == 0 {
		return summary{}
	}
	walls := make([]time.Duration, len(samples))
	rss := make([]int64, len(samples))
	for i, s := range samples {
		walls[i], rss[i] = s.wall, s.maxRSSKiB
	}
	slices.Sort(walls)
	slices.Sort(rss)
	return summary{ok: true, n: len(samples), wall: median(walls), wMin: walls[0], wMax: walls[len(walls)-1], rssKiB: median(rss)}
}

// median of a sorted slice; the mean of the middle two for an even length.
func median[T time.Duration | int64](sorted []T) T {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d.Microseconds())/1000) }

func (b *bench) printReport(w io.Writer, res [][]result, n int) {
	fmt.Fprintf(w, "\nbench: %d timed iterations (+1 warm-up) per row, runtimes alternating; medians.\n", n)
	fmt.Fprintf(w, "kernel %s\n", kernel())
	for _, rt := range b.runtimes {
		fmt.Fprintf(w, "  %-7s %s (%s)\n", rt.name, rt.path, rt.version())
	}
	for _, s := range b.skipped {
		fmt.Fprintf(w, "  SKIPPED %s\n", s)
	}
	fmt.Fprintln(w, "wall: fork of the first runtime process to exit of the last (ms, median [min..max]).")
	if launcher != "" {
		fmt.Fprintln(w, "peak RSS: largest ru_maxrss of a runtime process, measured by peakrss (MiB, median); per-process peak, see measure.go.")
	} else {
		fmt.Fprintln(w, "peak RSS: NOT MEASURED CLEANLY (no -peakrss): each value is at least the bench's own RSS, see peakrss/peakrss.c.")
	}
	fmt.Fprintf(w, "\n%-36s %-7s %8s %19s %9s %4s\n", "row", "runtime", "wall", "[min..max]", "peak RSS", "n")
	for i, r := range b.rows {
		for j, rt := range b.runtimes {
			name := r.name
			if j > 0 {
				name = ""
			}
			s := summarize(res[i][j].samples)
			if !s.ok || res[i][j].err != nil {
				fmt.Fprintf(w, "%-36s %-7s FAILED: %v\n", name, rt.name, res[i][j].err)
				continue
			}
			fmt.Fprintf(w, "%-36s %-7s %8s %19s %9.1f %4d\n", name, rt.name, ms(s.wall),
				"["+ms(s.wMin)+".."+ms(s.wMax)+"]", float64(s.rssKiB)/1024, s.n)
		}
	}
	b.printRatios(w, res)
	b.printDeltas(w, res)
}

// printRatios prints gocker/crun and gocker/runc for wall and RSS (issue 2
// targets: run wall <= 1.0x crun and <= 0.5x runc, peak RSS <= 0.6x runc).
func (b *bench) printRatios(w io.Writer, res [][]result) {
	g := b.index("gocker")
	if g < 0 {
		fmt.Fprintln(w, "\nratios: no gocker column (binary missing or skipped), none computed")
		return
	}
	others := []string{"crun", "runc"}
	fmt.Fprintf(w, "\n%-36s", "ratios")
	for _, o := range others {
		fmt.Fprintf(w, " %14s %14s", "wall g/"+o, "RSS g/"+o)
	}
	fmt.Fprintln(w)
	for i, r := range b.rows {
		gs := b.valid(res, i, g)
		fmt.Fprintf(w, "%-36s", r.name)
		for _, o := range others {
			oi := b.index(o)
			ot := b.valid(res, i, oi)
			if !gs.ok || !ot.ok {
				fmt.Fprintf(w, " %14s %14s", "-", "-")
				continue
			}
			fmt.Fprintf(w, " %13.2fx %13.2fx", float64(gs.wall)/float64(ot.wall), float64(gs.rssKiB)/float64(ot.rssKiB))
		}
		fmt.Fprintln(w)
	}
}

func (b *bench) index(name string) int {
	for i, rt := range b.runtimes {
		if rt.name == name {
			return i
		}
	}
	return -1
}

// valid is the summary of row i for runtime j, or !ok when it failed.
func (b *bench) valid(res [][]result, i, j int) summary {
	if j < 0 || res[i][j].err != nil {
		return summary{}
	}
	return summarize(res[i][j].samples)
}

func kernel() string {
	out, err := exec.Command("uname", "-r").Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}

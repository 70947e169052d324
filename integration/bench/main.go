// Command bench times gocker against runc and crun side by side (issue 2,
// performance): for each row (scenario + config modifier) it takes
// alternating samples, one runtime after the other in every iteration, so
// that drift in the machine's load hits all runtimes alike, and prints
// medians of wall time and peak RSS with the gocker/crun and gocker/runc
// ratios. Rows that add one feature to a base row (resource limits, issue
// 4; Docker's seccomp profile, issue 5; gocker's network hook, issue 7)
// are also printed as per-runtime deltas against that row (delta.go). Run
// it through integration/bench/run.sh (make bench).
//
// Usage: bench -bundle DIR [-n 20] NAME=PATH...
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run() error {
	bundle := flag.String("bundle", "", "busybox bundle to copy (its config.json and rootfs)")
	iterations := flag.Int("n", 20, "timed iterations per row and runtime (after one warm-up)")
	only := flag.String("only", "", "run only the rows whose name contains this text (and their base rows)")
	flag.StringVar(&launcher, "peakrss", "", "the peakrss launcher (peakrss.c) for a clean ru_maxrss; without it RSS includes the bench's own")
	prefix := flag.String("prefix", fmt.Sprintf("gocker-bench-%d", os.Getpid()), "container id prefix (names leftover cgroups)")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: bench -bundle DIR [-n 20] NAME=PATH...")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *bundle == "" || flag.NArg() == 0 || *iterations < 1 {
		flag.Usage()
		os.Exit(2)
	}
	b, err := newBench(*bundle, *prefix, *only, flag.Args())
	if err != nil {
		return err
	}
	// Clean up on ^C too: nothing may be left behind.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sigs
		b.cleanup()
		os.Exit(130)
	}()
	results := b.runAll(*iterations)
	cleanErr := b.cleanup()
	b.printReport(os.Stdout, results, *iterations)
	return cleanErr
}

// parseRuntimes turns NAME=PATH arguments into runtimes; a PATH that is not
// an executable file is reported and skipped (the gocker column is optional
// while gocker is being built).
func parseRuntimes(args []string) (rts []*runtimeUnderTest, skipped []string) {
	for _, a := range args {
		name, path, ok := strings.Cut(a, "=")
		if !ok || name == "" || path == "" {
			skipped = append(skipped, fmt.Sprintf("%q: want NAME=PATH", a))
			continue
		}
		fi, err := os.Stat(path)
		if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			skipped = append(skipped, fmt.Sprintf("%s: no executable at %s", name, path))
			continue
		}
		rts = append(rts, &runtimeUnderTest{name: name, path: path})
	}
	return rts, skipped
}

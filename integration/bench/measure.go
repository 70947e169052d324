package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// sample is one timed scenario.
//
// wall is from the fork of the first runtime process to the exit of the last
// (for one process, peakrss's fork to reap).
// maxRSSKiB is the largest ru_maxrss the kernel reported on wait of any runtime
// process of the sample. For a waited child, ru_maxrss is the peak resident
// set of the largest single process among the child itself and every
// descendant it (transitively) reaped (getrusage(2), wait4(2)). That covers
// the runtime's own re-exec'ed init helpers and, for `run`, the container
// process. It is a per-process peak, not a sum over the tree, and it misses
// processes reaped by someone else (a container init orphaned by `create`
// is reaped by pid 1 after it exits).
type sample struct {
	wall      time.Duration
	maxRSSKiB int64
}

// callTimeout bounds one runtime process so that a hung runtime fails the
// sample instead of the whole benchmark.
const callTimeout = 30 * time.Second

type runtimeUnderTest struct {
	name string
	path string
	root string // its own --root, inside the bench temp dir
	out  string // file receiving stdout+stderr of the last call
}

// launcher is peakrss (peakrss.c), through which invoke runs each runtime
// process for a clean ru_maxrss; "" falls back to the bench's own wait4,
// whose ru_maxrss is at least the bench's RSS (see peakrss.c).
var launcher string

// invoke runs one runtime process and returns its wall time and ru_maxrss.
// Output goes to a file, not a pipe: `create` leaves the container init
// holding its stdio, and a pipe would keep exec.Cmd.Wait from returning.
func (r *runtimeUnderTest) invoke(args ...string) (time.Duration, int64, error) {
	f, err := os.Create(r.out)
	if err != nil {
		return 0, 0, fmt.Errorf("open output file: %w", err)
	}
	defer f.Close()
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	argv := append([]string{r.path, "--root", r.root}, args...)
	result := r.out + ".peakrss"
	if launcher != "" {
		os.Remove(result)
		argv = append([]string{launcher, result}, argv...)
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = f, f
	start := time.Now()
	err = cmd.Run()
	wall := time.Since(start)
	var rss int64
	if launcher != "" {
		var ns int64
		b, rerr := os.ReadFile(result)
		if _, serr := fmt.Sscan(string(b), &rss, &ns); rerr != nil || serr != nil {
			if err == nil {
				err = fmt.Errorf("peakrss wrote no result (%v %v)", rerr, serr)
			}
		} else {
			wall = time.Duration(ns)
		}
	} else if cmd.ProcessState != nil {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			rss = ru.Maxrss // KiB on Linux
		}
	}
	if err != nil {
		return wall, rss, fmt.Errorf("%s %s: %w: %s", r.name, strings.Join(args, " "), err, r.lastOutput())
	}
	return wall, rss, nil
}

func (r *runtimeUnderTest) lastOutput() string {
	b, _ := os.ReadFile(r.out)
	s := strings.TrimSpace(string(b))
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}

// measure runs one sample of the scenario on the bundle under container id.
func (r *runtimeUnderTest) measure(sc scenario, bundle, id string) (sample, error) {
	if sc == scenarioRun {
		return r.measureRun(bundle, id)
	}
	return r.measureLifecycle(bundle, id)
}

func (r *runtimeUnderTest) measureRun(bundle, id string) (sample, error) {
	wall, rss, err := r.invoke("run", "--bundle", bundle, id)
	// Untimed: `run` deletes the container on exit; this only matters if it
	// failed half-way.
	r.forceDelete(id)
	return sample{wall: wall, maxRSSKiB: rss}, err
}

func (r *runtimeUnderTest) measureLifecycle(bundle, id string) (s sample, err error) {
	defer func() {
		if err != nil {
			r.forceDelete(id)
		}
	}()
	start := time.Now()
	step := func(args ...string) error {
		_, rss, err := r.invoke(args...)
		s.maxRSSKiB = max(s.maxRSSKiB, rss)
		return err
	}
	if err := step("create", "--bundle", bundle, id); err != nil {
		return s, err
	}
	if err := step("start", id); err != nil {
		return s, err
	}
	if err := r.waitStopped(id, step); err != nil {
		return s, err
	}
	if err := step("delete", id); err != nil {
		return s, err
	}
	s.wall = time.Since(start)
	return s, nil
}

// waitStopped polls `state` until the status is "stopped". Polling through
// the runtime is what a shim without a pidfd does, so its cost is part of the
// measured lifecycle.
func (r *runtimeUnderTest) waitStopped(id string, step func(...string) error) error {
	deadline := time.Now().Add(callTimeout)
	for time.Now().Before(deadline) {
		if err := step("state", id); err != nil {
			return err
		}
		b, err := os.ReadFile(r.out)
		if err != nil {
			return fmt.Errorf("read state output: %w", err)
		}
		var st struct {
			Status string `json:"status"`
		}
		if err := json.Unmarshal(b, &st); err != nil {
			return fmt.Errorf("%s state %s: bad JSON %q: %w", r.name, id, r.lastOutput(), err)
		}
		if st.Status == "stopped" {
			return nil
		}
	}
	return errors.New(r.name + ": container " + id + " did not stop")
}

// forceDelete removes the container if it still exists; errors are expected
// (it usually does not) and ignored. The final cleanup reports real leaks.
func (r *runtimeUnderTest) forceDelete(id string) {
	cmd := exec.Command(r.path, "--root", r.root, "delete", "--force", id)
	_ = cmd.Run()
}

// version is the first line of `RUNTIME --version`.
func (r *runtimeUnderTest) version() string {
	out, err := exec.Command(r.path, "--version").Output()
	if err != nil {
		return "version unknown"
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return line
}

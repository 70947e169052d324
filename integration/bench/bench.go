package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

const benchOCIVersion = "1.0.2"

// bench owns a temp dir holding one copy of the busybox rootfs, one bundle
// per row (config.json only, root.path pointing at the shared read-only
// rootfs) and one --root per runtime.
type bench struct {
	dir      string
	prefix   string // of every container id
	rows     []row
	rowErrs  []error  // rowErrs[i]: why rows[i] cannot run (its modifier failed)
	bundles  []string // bundles[i] is the bundle of rows[i], "" if it cannot run
	network  *benchNetwork
	runtimes []*runtimeUnderTest
	skipped  []string // runtimes not measured, with the reason
}

// result holds the samples of one row for one runtime; err is why the
// runtime was dropped from the row (then samples may be partial).
type result struct {
	samples []sample
	err     error
}

func newBench(srcBundle, prefix, only string, rtArgs []string) (*bench, error) {
	rts, skipped := parseRuntimes(rtArgs)
	if len(rts) == 0 {
		return nil, fmt.Errorf("no runtime to measure: %s", strings.Join(skipped, "; "))
	}
	dir, err := os.MkdirTemp("", "gocker-bench-")
	if err != nil {
		return nil, fmt.Errorf("temp dir: %w", err)
	}
	b := &bench{dir: dir, prefix: prefix, runtimes: rts, skipped: skipped}
	env := rowEnv{}
	if g := b.index("gocker"); g >= 0 {
		env.gocker = hookBinary(rts[g].path)
	}
	b.network = newBenchNetwork(env.gocker, dir)
	env.network = b.network
	b.rows = selectRows(rows(env), only)
	if err := checkRows(b.rows); err != nil {
		b.cleanup()
		return nil, err
	}
	if err := b.prepare(srcBundle); err != nil {
		b.cleanup()
		return nil, err
	}
	return b, nil
}

func (b *bench) prepare(srcBundle string) error {
	if err := os.Chmod(b.dir, 0o755); err != nil {
		return fmt.Errorf("chmod %s: %w", b.dir, err)
	}
	rootfs := filepath.Join(b.dir, "rootfs")
	// cp -a keeps the applet symlinks, modes and owners of the rootfs.
	if out, err := exec.Command("cp", "-a", filepath.Join(srcBundle, "rootfs"), rootfs).CombinedOutput(); err != nil {
		return fmt.Errorf("copy rootfs: %w: %s", err, out)
	}
	for i, r := range b.rows {
		dir := filepath.Join(b.dir, fmt.Sprintf("bundle-%d", i))
		if err := os.Mkdir(dir, 0o755); err != nil {
			return fmt.Errorf("bundle dir: %w", err)
		}
		// Load per row: each modifier gets its own deep copy.
		s, err := loadSpec(filepath.Join(srcBundle, "config.json"))
		if err != nil {
			return err
		}
		s.Root.Path = rootfs
		// crun 1.8.1 refuses ociVersion 1.2.0 ("unknown version specified");
		// the busybox config uses only 1.0.2 fields, so every runtime gets
		// the same config under the oldest version they all accept.
		s.Version = benchOCIVersion
		if err := r.modify(s); err != nil {
			b.rowErrs = append(b.rowErrs, fmt.Errorf("row not run: %w", err))
			b.bundles = append(b.bundles, "")
			continue
		}
		if err := writeSpec(filepath.Join(dir, "config.json"), s); err != nil {
			return err
		}
		b.rowErrs = append(b.rowErrs, nil)
		b.bundles = append(b.bundles, dir)
	}
	for _, rt := range b.runtimes {
		rt.root = filepath.Join(b.dir, "root-"+rt.name)
		rt.out = filepath.Join(b.dir, "out-"+rt.name)
		if err := os.Mkdir(rt.root, 0o700); err != nil {
			return fmt.Errorf("runtime root: %w", err)
		}
	}
	return nil
}

func loadSpec(path string) (*specs.Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read bundle config: %w", err)
	}
	var s specs.Spec
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	if s.Process == nil || s.Root == nil {
		return nil, fmt.Errorf("%s: process and root are required", path)
	}
	return &s, nil
}

func writeSpec(path string, s *specs.Spec) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("encode config: %w", err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	return nil
}

// runAll takes one untimed warm-up sample (page cache, first-run costs),
// then n timed iterations; in each iteration every row is sampled once per
// runtime, so the runtimes alternate, starting with a different runtime
// in each iteration.
func (b *bench) runAll(n int) [][]result {
	res := make([][]result, len(b.rows))
	for i := range res {
		res[i] = make([]result, len(b.runtimes))
		if b.rowErrs[i] != nil {
			fmt.Fprintf(os.Stderr, "bench: %q: %v\n", b.rows[i].name, b.rowErrs[i])
			for j := range res[i] {
				res[i][j].err = b.rowErrs[i]
			}
		}
	}
	for it := -1; it < n; it++ {
		for i, r := range b.rows {
			for k := range b.runtimes {
				// Who goes first rotates with the iteration: a sample
				// also pays for kernel work the one before it left
				// behind (netns and veth teardown run asynchronously,
				// in the kernel's cleanup_net work), and the row before
				// differs from this row's own samples.
				j := (k + it + 1) % len(b.runtimes)
				rt := b.runtimes[j]
				if res[i][j].err != nil {
					continue
				}
				// The runtime's name in the id tells whose leftovers are whose.
				id := fmt.Sprintf("%s-%s-%d-%d", b.prefix, rt.name, i, it+1)
				s, err := rt.measure(r.scenario, b.bundles[i], id)
				if err != nil {
					res[i][j].err = fmt.Errorf("iteration %d: %w", it+1, err)
					fmt.Fprintf(os.Stderr, "bench: %s dropped from %q: %v\n", rt.name, r.name, res[i][j].err)
					continue
				}
				if it >= 0 {
					res[i][j].samples = append(res[i][j].samples, s)
				}
			}
		}
		if it >= 0 && (it+1)%5 == 0 {
			fmt.Fprintf(os.Stderr, "bench: %d/%d iterations\n", it+1, n)
		}
	}
	return res
}

// cleanup force-deletes every container left in the runtimes' roots (a
// hook row's poststop teardown runs then), prunes the hook rows' network
// and checks it is gone, and removes the temp dir, refusing if anything is
// still mounted below it.
func (b *bench) cleanup() error {
	var errs []error
	for _, rt := range b.runtimes {
		if rt.root == "" {
			continue
		}
		out, _ := exec.Command(rt.path, "--root", rt.root, "list", "-q").Output()
		for _, id := range strings.Fields(string(out)) {
			if o, err := exec.Command(rt.path, "--root", rt.root, "delete", "--force", id).CombinedOutput(); err != nil {
				errs = append(errs, fmt.Errorf("%s delete --force %s: %w: %s", rt.name, id, err, o))
			}
		}
	}
	if err := b.network.cleanup(); err != nil {
		errs = append(errs, err)
	}
	mounted, err := mountsUnder(b.dir)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	if len(mounted) > 0 {
		return errors.Join(append(errs, fmt.Errorf("not removing %s: still mounted: %v", b.dir, mounted))...)
	}
	if err := os.RemoveAll(b.dir); err != nil {
		errs = append(errs, fmt.Errorf("remove %s: %w", b.dir, err))
	}
	return errors.Join(errs...)
}

// mountsUnder lists mount points at or below dir (field 5 of
// /proc/self/mountinfo, octal escapes decoded, see proc(5)).
func mountsUnder(dir string) ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("read mountinfo: %w", err)
	}
	defer f.Close()
	var found []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		mp := unescapeMountinfo(fields[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			found = append(found, mp)
		}
	}
	return found, sc.Err()
}

func unescapeMountinfo(s string) string {
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var c byte
			if _, err := fmt.Sscanf(s[i+1:i+4], "%03o", &c); err == nil {
				sb.WriteByte(c)
				i += 3
				continue
			}
		}
		sb.WriteByte(s[i])
	}
	return sb.String()
}

// hookBinary is the network hook's binary: gocker-network beside gocker
// (gocker itself forwards to it).
func hookBinary(gocker string) string {
	n := filepath.Join(filepath.Dir(gocker), "gocker-network")
	if fi, err := os.Stat(n); err == nil && fi.Mode()&0o111 != 0 {
		return n
	}
	return gocker
}

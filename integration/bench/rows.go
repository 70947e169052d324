package main

import (
	"errors"
	"fmt"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// scenario is what one timed sample does with a bundle.
type scenario int

const (
	// scenarioRun is "RUNTIME run": create, start, wait and delete in one
	// process, the path containerd-less users (and `make run`) take.
	scenarioRun scenario = iota
	// scenarioLifecycle is create + start + poll state until stopped +
	// delete, each a separate runtime process: the path a shim drives.
	scenarioLifecycle
)

func (s scenario) String() string {
	if s == scenarioRun {
		return "run"
	}
	return "create+start+wait+delete"
}

// row is one line of the result table: a name, a scenario and a config
// modifier applied to a copy of the busybox bundle's config.json. A row
// with a base is also printed as a delta against the base row, so the
// table shows what one feature (limits, seccomp, the network hook) adds.
// A modifier that fails makes the row unavailable: every cell is FAILED
// with its error and the other rows still run.
type row struct {
	name     string
	scenario scenario
	modify   func(*specs.Spec) error
	base     string  // name of the row this one is compared with; "" for none
	target   float64 // gocker's delta target against base in ms; 0 for none
}

// rowEnv is what modifiers need from the bench: the gocker binary (the
// network hook's path) and the hook's state directory.
type rowEnv struct {
	gocker  string // "" when there is no gocker column
	network *benchNetwork
}

const (
	rowRun      = "run /bin/true"
	rowNetns    = "run /bin/true, bare netns"
	rowNetHook  = "run /bin/true, netns + network hook"
	rowLimits   = "run /bin/true +limits (mem,cpu,pids)"
	rowSeccomp  = "run /bin/true +docker seccomp"
	rowLifeTrue = "create+start+wait+delete /bin/true"
)

func rows(env rowEnv) []row {
	return []row{
		{name: rowRun, scenario: scenarioRun, modify: trueProcess},
		// Issue 4: the cost of resource setup, target <= 1 ms over no limits.
		{name: rowLimits, scenario: scenarioRun, modify: chain(trueProcess, withLimits), base: rowRun, target: 1},
		// Issue 5: the cost of Docker's default profile, target <= 1 ms.
		{name: rowSeccomp, scenario: scenarioRun, modify: chain(trueProcess, withDockerSeccomp), base: rowRun, target: 1},
		// Issue 7. The busybox bundle already unshares the network
		// namespace, so this row's config equals the plain row's: its
		// delta is an A/A comparison and shows the noise floor of the run.
		{name: rowNetns, scenario: scenarioRun, modify: chain(trueProcess, withNetns), base: rowRun},
		{name: rowNetHook, scenario: scenarioRun, modify: chain(trueProcess, withNetns, env.withNetworkHook), base: rowNetns},
		// Last, after the hook row: the bridge, veth and netns teardown the
		// hook row leaves to the kernel lands here, in a row with no delta,
		// not in the plain row the deltas are taken against.
		{name: rowLifeTrue, scenario: scenarioLifecycle, modify: trueProcess},
	}
}

func chain(mods ...func(*specs.Spec) error) func(*specs.Spec) error {
	return func(s *specs.Spec) error {
		for _, m := range mods {
			if err := m(s); err != nil {
				return err
			}
		}
		return nil
	}
}

// trueProcess makes the container run /bin/true without a terminal, so the
// sample measures the runtime, not the workload.
func trueProcess(s *specs.Spec) error {
	s.Process.Args = []string{"/bin/true"}
	s.Process.Terminal = false
	return nil
}

// withLimits sets what `docker run --memory 256m --memory-swap 256m
// --cpus 0.5 --pids-limit 100` sets. runtime-spec config-linux.md:
// memory.swap is the memory+swap limit, so swap == limit means no swap.
func withLimits(s *specs.Spec) error {
	limit := int64(256 << 20)
	quota := int64(50000)
	period := uint64(100000)
	pids := int64(100)
	if s.Linux == nil {
		s.Linux = &specs.Linux{}
	}
	if s.Linux.Resources == nil {
		s.Linux.Resources = &specs.LinuxResources{}
	}
	r := s.Linux.Resources
	r.Memory = &specs.LinuxMemory{Limit: &limit, Swap: &limit}
	r.CPU = &specs.LinuxCPU{Quota: &quota, Period: &period}
	r.Pids = &specs.LinuxPids{Limit: &pids}
	return nil
}

// withNetns makes sure the container gets a new network namespace (a
// namespace entry without a path, runtime-spec config-linux.md).
func withNetns(s *specs.Spec) error {
	if s.Linux == nil {
		s.Linux = &specs.Linux{}
	}
	for i, ns := range s.Linux.Namespaces {
		if ns.Type == specs.NetworkNamespace {
			s.Linux.Namespaces[i].Path = ""
			return nil
		}
	}
	s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.NetworkNamespace})
	return nil
}

// withNetworkHook wires gocker's bridge network hook the way
// `gocker spec --network bridge` does (createRuntime setup, poststop
// teardown), with the binary under test as the hook. The hook is
// runtime-independent, so runc and crun run the same bundle.
func (env rowEnv) withNetworkHook(s *specs.Spec) error {
	if env.gocker == "" {
		return errors.New("no gocker binary: the network hook is gocker's")
	}
	if err := env.network.usable(); err != nil {
		return err
	}
	hook := func(verb string) specs.Hook {
		return specs.Hook{
			Path: env.gocker,
			Args: append([]string{"gocker", "hook", "network", verb}, env.network.hookFlags()...),
			// Runtimes give a hook only this environment (runtime-spec
			// config.md, hooks: env).
			Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
		}
	}
	if s.Hooks == nil {
		s.Hooks = &specs.Hooks{}
	}
	s.Hooks.CreateRuntime = append(s.Hooks.CreateRuntime, hook("setup"))
	s.Hooks.Poststop = append(s.Hooks.Poststop, hook("teardown"))
	return nil
}

// selectRows keeps the rows whose name contains only, and the rows they
// are compared with; all rows for "".
func selectRows(rs []row, only string) []row {
	if only == "" {
		return rs
	}
	keep := map[string]bool{}
	for _, r := range rs {
		if strings.Contains(r.name, only) {
			keep[r.name] = true
			if r.base != "" {
				keep[r.base] = true
			}
		}
	}
	var out []row
	for _, r := range rs {
		if keep[r.name] {
			out = append(out, r)
		}
	}
	return out
}

// rowIndex is the index of the row named name, or -1.
func rowIndex(rs []row, name string) int {
	for i, r := range rs {
		if r.name == name {
			return i
		}
	}
	return -1
}

// checkRows catches a base that names no earlier row (a typo would
// silently drop the delta).
func checkRows(rs []row) error {
	for i, r := range rs {
		if r.base == "" {
			continue
		}
		if j := rowIndex(rs, r.base); j < 0 || j >= i {
			return fmt.Errorf("row %q: base %q is not an earlier row", r.name, r.base)
		}
	}
	return nil
}

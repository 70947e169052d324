package main

import (
	"errors"
	"runtime"
	"slices"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func baseSpec() *specs.Spec {
	return &specs.Spec{
		Process: &specs.Process{Args: []string{"/bin/sh"}, Terminal: true,
			Capabilities: &specs.LinuxCapabilities{Bounding: []string{"CAP_KILL"}}},
		Linux: &specs.Linux{Namespaces: []specs.LinuxNamespace{{Type: specs.PIDNamespace}}},
	}
}

func TestRowsHaveEarlierBases(t *testing.T) {
	env := rowEnv{gocker: "/bin/gocker", network: &benchNetwork{stateDir: "/x"}}
	if err := checkRows(rows(env)); err != nil {
		t.Fatal(err)
	}
	bad := []row{{name: "a", base: "b"}, {name: "b"}}
	if err := checkRows(bad); err == nil {
		t.Fatal("a base after its row was accepted")
	}
}

func TestWithLimits(t *testing.T) {
	s := baseSpec()
	if err := withLimits(s); err != nil {
		t.Fatal(err)
	}
	r := s.Linux.Resources
	if *r.Memory.Limit != 256<<20 || *r.Memory.Swap != *r.Memory.Limit {
		t.Errorf("memory = %d swap = %d, want 256 MiB both", *r.Memory.Limit, *r.Memory.Swap)
	}
	if *r.CPU.Quota != 50000 || *r.CPU.Period != 100000 || *r.Pids.Limit != 100 {
		t.Errorf("cpu %d/%d pids %d", *r.CPU.Quota, *r.CPU.Period, *r.Pids.Limit)
	}
}

func TestWithDockerSeccomp(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("architectures asserted for amd64")
	}
	s := baseSpec()
	if err := withDockerSeccomp(s); err != nil {
		t.Fatal(err)
	}
	p := s.Linux.Seccomp
	if p.DefaultAction != specs.ActErrno || p.DefaultErrnoRet == nil {
		t.Errorf("default action %q errnoRet %v", p.DefaultAction, p.DefaultErrnoRet)
	}
	want := []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32}
	if !slices.Equal(p.Architectures, want) {
		t.Errorf("architectures %v, want %v", p.Architectures, want)
	}
	allowed := func(name string) bool {
		for _, sc := range p.Syscalls {
			if sc.Action == specs.ActAllow && len(sc.Args) == 0 && slices.Contains(sc.Names, name) {
				return true
			}
		}
		return false
	}
	// chroot is included for CAP_SYS_CHROOT (a Docker default cap, not the
	// bundle's), reboot needs CAP_SYS_BOOT, read is unconditional.
	for name, want := range map[string]bool{"read": true, "chroot": true, "reboot": false, "mount": false} {
		if allowed(name) != want {
			t.Errorf("%s allowed = %v, want %v", name, !want, want)
		}
	}
	if !slices.Equal(s.Process.Capabilities.Bounding, []string{"CAP_KILL"}) {
		t.Errorf("the container's capabilities changed: %v", s.Process.Capabilities.Bounding)
	}
}

func TestWithNetworkHook(t *testing.T) {
	n := &benchNetwork{gocker: "/opt/gocker", stateDir: "/tmp/st"}
	s := baseSpec()
	if err := chain(withNetns, rowEnv{gocker: "/opt/gocker", network: n}.withNetworkHook)(s); err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(s.Linux.Namespaces, func(ns specs.LinuxNamespace) bool {
		return ns.Type == specs.NetworkNamespace && ns.Path == ""
	}) {
		t.Errorf("no new network namespace: %v", s.Linux.Namespaces)
	}
	wantArgs := []string{"gocker", "hook", "network", "setup", "--state-dir", "/tmp/st", "--bridge", benchBridge, "--subnet", benchSubnet}
	if len(s.Hooks.CreateRuntime) != 1 || s.Hooks.CreateRuntime[0].Path != "/opt/gocker" || !slices.Equal(s.Hooks.CreateRuntime[0].Args, wantArgs) {
		t.Errorf("createRuntime %+v", s.Hooks.CreateRuntime)
	}
	if len(s.Hooks.Poststop) != 1 || s.Hooks.Poststop[0].Args[3] != "teardown" {
		t.Errorf("poststop %+v", s.Hooks.Poststop)
	}
	if err := (rowEnv{network: n}).withNetworkHook(baseSpec()); err == nil {
		t.Error("hook wired without a gocker binary")
	}
	n.busy = errors.New("bridge exists")
	if err := (rowEnv{gocker: "/opt/gocker", network: n}).withNetworkHook(baseSpec()); err == nil {
		t.Error("hook wired onto a bridge that existed before the bench")
	}
}

func TestPairedDelta(t *testing.T) {
	ms := func(v ...int) []sample {
		var s []sample
		for _, x := range v {
			s = append(s, sample{wall: time.Duration(x) * time.Millisecond})
		}
		return s
	}
	row, base := ms(12, 30, 14), ms(10, 20, 13)
	d := pairedDelta(summarize(row), summarize(base), row, base)
	if !d.ok || d.med != 2*time.Millisecond || d.lo != time.Millisecond || d.hi != 10*time.Millisecond {
		t.Errorf("delta %+v, want median 2ms of (2, 10, 1), full range below n=6", d)
	}
	if d := pairedDelta(summary{}, summarize(base), nil, base); d.ok {
		t.Error("delta of a failed row")
	}
}

func TestMedianCIRank(t *testing.T) {
	// Binomial(n, 1/2) tables (1-based): n=10 -> x(2)..x(9), n=20 -> x(6)..x(15),
	// n=40 -> x(14)..x(27).
	for n, want := range map[int]int{5: 0, 6: 0, 10: 1, 20: 5, 40: 13} {
		if got := medianCIRank(n); got != want {
			t.Errorf("medianCIRank(%d) = %d, want %d", n, got, want)
		}
	}
}

func TestVerdict(t *testing.T) {
	d := func(lo, hi float64) delta {
		return delta{ok: true, lo: time.Duration(lo * 1e6), hi: time.Duration(hi * 1e6)}
	}
	for _, c := range []struct {
		d    delta
		want string
	}{{d(-1, 0.9), "met"}, {d(1.1, 3), "MISSED"}, {d(0.5, 2), "inconclusive (interval spans it)"}, {delta{}, "no gocker delta"}} {
		if got := verdict(c.d, 1); got != c.want {
			t.Errorf("verdict(%+v) = %q, want %q", c.d, got, c.want)
		}
	}
}

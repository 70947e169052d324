//go:build amd64

package seccomp

import (
	"fmt"
	"io"
	"math/rand"
	"os"
	"strings"
	"testing"

	mobyseccomp "github.com/moby/profiles/seccomp"
	"github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

func TestMain(m *testing.M) {
	if v := os.Getenv(childEnv); v != "" {
		os.Exit(runChild(v))
	}
	logrus.SetOutput(io.Discard) // warnings are checked through Filter.Warnings
	os.Exit(m.Run())
}

func uptr(v uint) *uint { return &v }

func TestCompileErrors(t *testing.T) {
	ok := specs.LinuxSyscall{Names: []string{"getppid"}, Action: specs.ActErrno}
	for _, tc := range []struct {
		s    specs.LinuxSeccomp
		want string
	}{
		{specs.LinuxSeccomp{DefaultAction: "SCMP_ACT_FOO"},
			`linux.seccomp.defaultAction: unknown action "SCMP_ACT_FOO"`},
		{specs.LinuxSeccomp{},
			`linux.seccomp.defaultAction: missing`},
		{specs.LinuxSeccomp{DefaultAction: specs.ActNotify, ListenerPath: "/x"},
			`linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action`},
		{specs.LinuxSeccomp{DefaultAction: specs.ActAllow, DefaultErrnoRet: uptr(5)},
			`linux.seccomp.defaultErrnoRet: SCMP_ACT_ALLOW does not take an errno`},
		{specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{ok, ok, ok,
			{Names: []string{"read"}, Action: "SCMP_ACT_FOO"}}},
			`linux.seccomp.syscalls[3].action: unknown action "SCMP_ACT_FOO"`},
		{specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
			{Names: []string{"read"}, Action: specs.ActKill, ErrnoRet: uptr(1)}}},
			`linux.seccomp.syscalls[0].errnoRet: SCMP_ACT_KILL does not take an errno`},
		{specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
			{Names: []string{"read"}, Action: specs.ActErrno, ErrnoRet: uptr(70000)}}},
			`linux.seccomp.syscalls[0].errnoRet: 70000 does not fit`},
		{specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{"SCMP_ARCH_X86", "SCMP_ARCH_Z80"}},
			`linux.seccomp.architectures[1]: unknown architecture "SCMP_ARCH_Z80"`},
		{specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Flags: []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_FOO"}},
			`linux.seccomp.flags[0]: unknown flag "SECCOMP_FILTER_FLAG_FOO"`},
		{specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{ok,
			{Names: []string{"read"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{{Index: 0, Op: "SCMP_CMP_FOO"}}}}},
			`linux.seccomp.syscalls[1].args[0].op: unknown operator "SCMP_CMP_FOO"`},
		{specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
			{Names: []string{"read"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{{Index: 6, Op: specs.OpEqualTo}}}}},
			`linux.seccomp.syscalls[0].args[0].index: 6 is out of range`},
		{specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
			{Names: []string{"no_such_call", "neither_this"}, Action: specs.ActErrno}}},
			`linux.seccomp.syscalls[0].names: no known syscall in ["no_such_call" "neither_this"]`},
		{specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Action: specs.ActErrno}}},
			`linux.seccomp.syscalls[0].names: must contain at least one entry`},
		{specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
			{Names: []string{"read"}, Action: specs.ActNotify}}},
			`linux.seccomp.listenerPath: required when SCMP_ACT_NOTIFY is used`},
		{specs.LinuxSeccomp{DefaultAction: specs.ActAllow, ListenerMetadata: "x"},
			`linux.seccomp.listenerMetadata: set without listenerPath`},
	} {
		_, err := Compile(&tc.s)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("Compile(%+v)\n got %v\nwant %s", tc.s, err, tc.want)
		}
	}
}

func TestCompileWarnsUnknownName(t *testing.T) {
	f, err := Compile(&specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
		{Names: []string{"getppid", "no_such_call"}, Action: specs.ActErrno}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Warnings) != 1 || !strings.Contains(f.Warnings[0], `unknown syscall "no_such_call" ignored`) {
		t.Fatalf("warnings = %q", f.Warnings)
	}
	// The known name still works.
	got, _, err := run(f.prog, &seccompData{arch: auditX86_64, nr: unix.SYS_GETPPID})
	if err != nil || got != unix.SECCOMP_RET_ERRNO|1 {
		t.Fatalf("getppid -> %#x, %v", got, err)
	}
}

func TestCompileNil(t *testing.T) {
	f, err := Compile(nil)
	if f != nil || err != nil {
		t.Fatal("Compile(nil) must be nil, nil")
	}
	if fd, err := f.Install(); fd != -1 || err != nil {
		t.Fatal("nil Install must do nothing")
	}
}

// dockerProfile is Docker's default profile for a container with Docker's
// default capabilities, as dockerd would pass it to runc.
func dockerProfile(t testing.TB) *specs.LinuxSeccomp {
	caps := []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
		"CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
		"CAP_KILL", "CAP_AUDIT_WRITE"}
	rs := &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{
		Bounding: caps, Effective: caps, Permitted: caps}}}
	s, err := mobyseccomp.GetDefaultProfile(rs)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// checkAgainstRef runs the program and the reference over inputs.
func checkAgainstRef(t *testing.T, s *specs.LinuxSeccomp, f *Filter, inputs []seccompData) (maxSteps int, sumSteps int) {
	t.Helper()
	fails := 0
	for i := range inputs {
		d := &inputs[i]
		got, steps, err := run(f.prog, d)
		if err != nil {
			t.Fatalf("program error on %+v: %v", d, err)
		}
		maxSteps = max(maxSteps, steps)
		sumSteps += steps
		if want := refEval(s, d); got != want {
			fails++
			if fails <= 5 {
				t.Errorf("arch %#x nr %#x args %#x: got %#x, want %#x", d.arch, d.nr, d.args, got, want)
			}
		}
	}
	if fails > 0 {
		t.Fatalf("%d of %d inputs differ", fails, len(inputs))
	}
	return maxSteps, sumSteps
}

var interesting = []uint64{0, 1, 2, 3, 4, 7, 8, 0x7f, 0xff, 0x100, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff,
	0x100000000, 0x100000001, 0x1ffffffff, 0x8000000000000000, 0xfffffffffffffffe, 0xffffffffffffffff,
	0xffffffff00000000, 0xdeadbeef00000003, 0x2000000, 0x10000000, 0x7e020000}

func randArg(r *rand.Rand) uint64 {
	if r.Intn(4) == 0 {
		return r.Uint64() >> uint(r.Intn(64))
	}
	return interesting[r.Intn(len(interesting))]
}

func inputsFor(r *rand.Rand, arches []uint32, nrs []uint32, n int) []seccompData {
	out := make([]seccompData, 0, n)
	for len(out) < n {
		d := seccompData{arch: arches[r.Intn(len(arches))]}
		switch k := r.Intn(10); {
		case k < 7:
			d.nr = nrs[r.Intn(len(nrs))]
		case k == 7:
			d.nr = r.Uint32() >> uint(r.Intn(32))
		case k == 8:
			d.nr = 0xffffffff
		default:
			d.nr = x32Bit | uint32(r.Intn(600))
		}
		for i := range d.args {
			d.args[i] = randArg(r)
		}
		out = append(out, d)
	}
	return out
}

// allNrs lists the numbers of names in every table, and neighbours.
func allNrs(names []string) []uint32 {
	var out []uint32
	for _, n := range names {
		for _, a := range []*abi{abiX86_64, abiX86, abiX32} {
			if nr, ok := a.lookup(n); ok {
				out = append(out, nr, nr+1, nr-1)
			}
		}
	}
	return out
}

func TestDockerProfileMatchesReference(t *testing.T) {
	s := dockerProfile(t)
	f, err := Compile(s)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Warnings) > 0 {
		t.Logf("warnings: %q", f.Warnings)
	}
	var names []string
	for _, r := range s.Syscalls {
		names = append(names, r.Names...)
	}
	r := rand.New(rand.NewSource(1))
	var inputs []seccompData
	// Every number 0..1023 on every arch with random args, plus random ones.
	for _, arch := range []uint32{auditX86_64, auditI386, auditAARCH64} {
		for nr := uint32(0); nr < 1024; nr++ {
			d := seccompData{arch: arch, nr: nr}
			for i := range d.args {
				d.args[i] = randArg(r)
			}
			inputs = append(inputs, d, seccompData{arch: arch, nr: nr | x32Bit, args: d.args})
		}
	}
	inputs = append(inputs, inputsFor(r, []uint32{auditX86_64, auditI386}, allNrs(names), 50000)...)
	maxSteps, sum := checkAgainstRef(t, s, f, inputs)
	t.Logf("docker profile: %d rules, %d BPF instructions, max %d / mean %.1f instructions run per syscall",
		len(s.Syscalls), f.Len(), maxSteps, float64(sum)/float64(len(inputs)))
}

var actions = []specs.LinuxSeccompAction{specs.ActKill, specs.ActKillProcess, specs.ActKillThread, specs.ActTrap,
	specs.ActErrno, specs.ActTrace, specs.ActAllow, specs.ActLog, specs.ActNotify}
var opsList = []specs.LinuxSeccompOperator{specs.OpNotEqual, specs.OpLessThan, specs.OpLessEqual, specs.OpEqualTo,
	specs.OpGreaterEqual, specs.OpGreaterThan, specs.OpMaskedEqual}
var namePool = []string{"read", "write", "getppid", "socket", "socketcall", "personality", "clone", "_llseek",
	"rt_sigaction", "execve", "ioctl", "mmap", "mmap2", "waitpid", "listns", "arch_prctl", "kexec_load", "no_such_call"}

func randomProfile(r *rand.Rand) *specs.LinuxSeccomp {
	s := &specs.LinuxSeccomp{DefaultAction: actions[r.Intn(len(actions)-1)], ListenerPath: "/l"} // not NOTIFY
	if s.DefaultAction == specs.ActErrno && r.Intn(2) == 0 {
		s.DefaultErrnoRet = uptr(uint(r.Intn(200)))
	}
	for _, a := range []specs.Arch{specs.ArchX86, specs.ArchX32, specs.ArchX86_64, specs.ArchARM} {
		if r.Intn(2) == 0 {
			s.Architectures = append(s.Architectures, a)
		}
	}
	for n := r.Intn(12); n > 0; n-- {
		rule := specs.LinuxSyscall{Action: actions[r.Intn(len(actions))]}
		for k := 1 + r.Intn(3); k > 0; k-- {
			rule.Names = append(rule.Names, namePool[r.Intn(len(namePool)-1)])
		}
		if r.Intn(5) == 0 {
			rule.Names = append(rule.Names, "no_such_call")
		}
		if (rule.Action == specs.ActErrno || rule.Action == specs.ActTrace) && r.Intn(2) == 0 {
			rule.ErrnoRet = uptr(uint(r.Intn(4096)))
		}
		if r.Intn(3) > 0 {
			for k := 1 + r.Intn(3); k > 0; k-- {
				rule.Args = append(rule.Args, specs.LinuxSeccompArg{Index: uint(r.Intn(6)), Op: opsList[r.Intn(len(opsList))],
					Value: randArg(r), ValueTwo: randArg(r)})
			}
		}
		s.Syscalls = append(s.Syscalls, rule)
	}
	return s
}

func TestRandomProfilesMatchReference(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	nrs := allNrs(namePool)
	for i := 0; i < 3000; i++ {
		s := randomProfile(r)
		f, err := Compile(s)
		if err != nil {
			t.Fatalf("profile %d: %v", i, err)
		}
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			checkAgainstRef(t, s, f, inputsFor(r, []uint32{auditX86_64, auditI386, auditAARCH64}, nrs, 300))
		})
		if t.Failed() {
			t.Logf("profile: %+v", s)
			return
		}
	}
}

// Many conditional rules make a program where the search's top jumps
// exceed 255 instructions; the trampolines must keep it correct.
func TestLongJumps(t *testing.T) {
	s := &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Architectures: []specs.Arch{specs.ArchX86, specs.ArchX32}}
	for _, e := range sysTable[:150] {
		s.Syscalls = append(s.Syscalls, specs.LinuxSyscall{Names: []string{e.name}, Action: specs.ActAllow,
			Args: []specs.LinuxSeccompArg{{Index: 1, Op: specs.OpGreaterThan, Value: 0x100000005}}})
	}
	f, err := Compile(s)
	if err != nil {
		t.Fatal(err)
	}
	if f.Len() < 1000 {
		t.Fatalf("program too short (%d) to need long jumps", f.Len())
	}
	r := rand.New(rand.NewSource(3))
	var names []string
	for _, e := range sysTable[:150] {
		names = append(names, e.name)
	}
	checkAgainstRef(t, s, f, inputsFor(r, []uint32{auditX86_64, auditI386}, allNrs(names), 20000))
}

func TestTooLong(t *testing.T) {
	s := &specs.LinuxSeccomp{DefaultAction: specs.ActErrno}
	for _, e := range sysTable[:] {
		s.Syscalls = append(s.Syscalls, specs.LinuxSyscall{Names: []string{e.name}, Action: specs.ActAllow,
			Args: []specs.LinuxSeccompArg{{Index: 1, Op: specs.OpGreaterThan, Value: 5}, {Index: 2, Op: specs.OpLessThan, Value: 5}}})
	}
	_, err := Compile(s)
	if err == nil || !strings.Contains(err.Error(), "the kernel allows 4096") {
		t.Fatalf("got %v", err)
	}
}

func BenchmarkCompileDocker(b *testing.B) {
	s := dockerProfile(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(s); err != nil {
			b.Fatal(err)
		}
	}
}

// TestEqualityGroupsMatchReference: runs of "arg == v" rules, compiled to
// one load and a compare per value, decide as the rules do one by one:
// for the listed values, their neighbours, other high words, and runs
// broken by another action, another argument or another high word.
func TestEqualityGroupsMatchReference(t *testing.T) {
	eq := func(idx uint, v uint64, act specs.LinuxSeccompAction) specs.LinuxSyscall {
		return specs.LinuxSyscall{Names: []string{"socket", "personality"}, Action: act,
			Args: []specs.LinuxSeccompArg{{Index: idx, Op: specs.OpEqualTo, Value: v}}}
	}
	var vals []uint64
	s := &specs.LinuxSeccomp{DefaultAction: specs.ActErrno,
		Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32}}
	for i, v := range []uint64{1, 2, 10, 17, 0x100000002, 0x100000005, 40, 41, 0xffffffff} {
		act := specs.ActAllow
		if i == 6 {
			act = specs.ActLog // breaks the run
		}
		s.Syscalls = append(s.Syscalls, eq(0, v, act))
		vals = append(vals, v)
	}
	s.Syscalls = append(s.Syscalls, eq(1, 7, specs.ActAllow), eq(1, 8, specs.ActAllow), eq(0, 99, specs.ActAllow))
	vals = append(vals, 7, 8, 99)
	f, err := Compile(s)
	if err != nil {
		t.Fatal(err)
	}
	var args []uint64
	for _, v := range vals {
		args = append(args, v, v+1, v-1, v^1<<32, v|0xffffffff00000000, uint64(uint32(v)))
	}
	var inputs []seccompData
	for _, arch := range []uint32{auditX86_64, auditI386} {
		for _, name := range []string{"socket", "personality"} {
			for _, ab := range []*abi{abiX86_64, abiX86, abiX32} {
				nr, ok := ab.lookup(name)
				if !ok || ab.audit != arch {
					continue
				}
				for _, a0 := range args {
					for _, a1 := range []uint64{7, 8, 9, 7 | 1<<32} {
						inputs = append(inputs, seccompData{arch: arch, nr: nr, args: [6]uint64{a0, a1}})
					}
				}
			}
		}
	}
	if len(inputs) < 1000 {
		t.Fatalf("only %d inputs", len(inputs))
	}
	checkAgainstRef(t, s, f, inputs)
}

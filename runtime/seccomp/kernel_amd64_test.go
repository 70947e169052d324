package seccomp

import (
	"fmt"
	"os"
	"strconv"
	"testing"

	"github.com/gocker/gocker/runtime/seccomp/internal/int80"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func int80Syscall(nr, a1, a2 uintptr) int32 { return int80.Syscall(nr, a1, a2) }

// i386 syscall numbers (arch/x86/entry/syscalls/syscall_32.tbl).
const (
	i386Getpid  = 20
	i386Getppid = 64
)

func needInt80(t *testing.T) {
	t.Helper()
	if int(int80.Syscall(i386Getpid, 0, 0)) != os.Getpid() {
		t.Skip("no IA32 emulation: int $0x80 does not work on this kernel")
	}
}

// A 32-bit syscall from a process whose filter does not list SCMP_ARCH_X86
// hits the bad-arch action: the process dies by SIGSYS.
func TestKernelX86NotListedKills(t *testing.T) {
	needRoot(t)
	needInt80(t)
	p := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow}
	_, ws, stderr := child(t, childSpec{Profile: p, Calls: []call{{Nr: i386Getpid, Int80: true}}})
	if !ws.Signaled() || ws.Signal() != unix.SIGSYS {
		t.Fatalf("want death by SIGSYS, got %v (stderr %q)", ws, stderr)
	}
}

// With SCMP_ARCH_X86 listed, i386 syscalls are filtered by their i386
// numbers and 32-bit arguments: getppid is 64 there, and a rule on
// argument 0 compares only its low 32 bits.
func TestKernelX86Rules(t *testing.T) {
	needRoot(t)
	needInt80(t)
	p := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
		Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86}, Syscalls: []specs.LinuxSyscall{
			{Names: []string{"getppid"}, Action: specs.ActErrno, ErrnoRet: uptr(uint(unix.EXDEV)),
				Args: []specs.LinuxSeccompArg{{Index: 0, Op: specs.OpEqualTo, Value: 0x500000007}}}}}
	got := results(t, childSpec{Profile: p, Calls: []call{
		{Nr: i386Getppid, Int80: true, Args: [6]uint64{7}},
		{Nr: i386Getppid, Int80: true, Args: [6]uint64{8}},
		{Nr: i386Getpid, Int80: true},
		getppid(7), // x86_64: the full 64-bit value does not match
		getppid(0x500000007),
	}})
	pid := "" // the child's own pid is unknown here; check it is positive
	want := []string{errnoLine(unix.EXDEV), okLine(), pid, okLine(), errnoLine(unix.EXDEV)}
	for i, w := range want {
		if w == "" {
			if n, err := strconv.Atoi(got[i][:len(got[i])-2]); err != nil || n <= 0 {
				t.Errorf("call %d: got %q, want a pid", i, got[i])
			}
			continue
		}
		if got[i] != w {
			t.Errorf("call %d: got %q, want %q", i, got[i], w)
		}
	}
	if t.Failed() {
		t.Log(fmt.Sprint(got))
	}
}

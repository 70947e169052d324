//go:build amd64

package seccomp

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// Kernel tests run in a re-executed test binary: a filter cannot be
// removed, so each scenario gets its own process. The child locks its OS
// thread, sets no_new_privs, installs the filter and then makes the
// requested syscalls on that thread, printing "ret errno" per call.

const childEnv = "GOCKER_SECCOMP_TEST_CHILD"

type call struct {
	Nr    uintptr
	Args  [6]uint64
	Int80 bool // i386 ABI through int $0x80 (amd64 only)
}

type childSpec struct {
	Profile  *specs.LinuxSeccomp
	Calls    []call
	Exec     []string // execve this after the calls
	Listener string   // send the notify fd here, then make the calls
	Tasks    bool     // print each thread's Seccomp_filters count
	Bench    int      // measure getppid before and after Install
}

func runChild(v string) int {
	runtime.LockOSThread()
	logrus.SetOutput(io.Discard)
	var cs childSpec
	if err := json.Unmarshal([]byte(v), &cs); err != nil {
		fmt.Println("ERR", err)
		return 3
	}
	// SIGSYS kills dump core; keep the test directory clean.
	_ = unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{})
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		fmt.Println("ERR nnp", err)
		return 3
	}
	var before float64
	if cs.Bench > 0 {
		before = getppidLoop(cs.Bench)
	}
	t0 := time.Now()
	f, err := Compile(cs.Profile)
	t1 := time.Now()
	fd := -1
	if err == nil {
		fd, err = f.Install()
	}
	t2 := time.Now()
	if err != nil {
		fmt.Println("ERR", err)
		return 3
	}
	if cs.Bench > 0 {
		after := getppidLoop(cs.Bench)
		fmt.Printf("BENCH %d %d %.1f %.1f %d\n", t1.Sub(t0).Nanoseconds(), t2.Sub(t1).Nanoseconds(), before, after, f.Len())
	}
	if cs.Listener != "" {
		st := &specs.ContainerProcessState{Pid: os.Getpid(), Metadata: f.ListenerMetadata,
			State: specs.State{ID: "gocker-test", Status: specs.StateCreating, Pid: os.Getpid()}}
		if err := SendToListener(cs.Listener, fd, st); err != nil {
			fmt.Println("ERR", err)
			return 3
		}
		unix.Close(fd)
	}
	var out strings.Builder
	for _, c := range cs.Calls {
		r, e := doCall(c)
		fmt.Fprintf(&out, "%d %d\n", r, e)
	}
	if cs.Tasks {
		out.WriteString(taskFilters())
	}
	fmt.Print(out.String())
	if cs.Exec != nil {
		err := unix.Exec(cs.Exec[0], cs.Exec, []string{"PATH=/bin"})
		fmt.Println("ERR exec", err)
		return 3
	}
	return 0
}

func doCall(c call) (int64, int) {
	if c.Int80 {
		r := int80Syscall(c.Nr, uintptr(c.Args[0]), uintptr(c.Args[1]))
		if r < 0 && r > -4096 {
			return -1, int(-r)
		}
		return int64(r), 0
	}
	a := c.Args
	r, _, e := unix.Syscall6(c.Nr, uintptr(a[0]), uintptr(a[1]), uintptr(a[2]), uintptr(a[3]), uintptr(a[4]), uintptr(a[5]))
	if e != 0 {
		return -1, int(e)
	}
	return int64(r), 0
}

func getppidLoop(n int) float64 {
	t := time.Now()
	for i := 0; i < n; i++ {
		unix.Syscall(unix.SYS_GETPPID, 0, 0, 0)
	}
	return float64(time.Since(t).Nanoseconds()) / float64(n)
}

// taskFilters prints "tid filters" per thread from /proc (proc(5)
// Seccomp_filters), so tests can see which threads got the filter.
func taskFilters() string {
	var b strings.Builder
	tids, _ := os.ReadDir("/proc/self/task")
	self := unix.Gettid()
	for _, t := range tids {
		data, _ := os.ReadFile("/proc/self/task/" + t.Name() + "/status")
		for _, line := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "Seccomp_filters:"); ok {
				me := ""
				if t.Name() == strconv.Itoa(self) {
					me = " self"
				}
				fmt.Fprintf(&b, "task %s%s\n", strings.TrimSpace(v), me)
			}
		}
	}
	return b.String()
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
}

// child runs cs and returns its stdout lines, the wait status and stderr.
func child(t testing.TB, cs childSpec) ([]string, syscall.WaitStatus, string) {
	t.Helper()
	js, err := json.Marshal(cs)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/proc/self/exe", "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+string(js))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	return lines, ws, stderr.String()
}

// results runs cs and expects a clean exit with one "ret errno" per call.
func results(t *testing.T, cs childSpec) []string {
	t.Helper()
	lines, ws, stderr := child(t, cs)
	if !ws.Exited() || ws.ExitStatus() != 0 || len(lines) < len(cs.Calls) {
		t.Fatalf("child: %v, stdout %q, stderr %q", ws, lines, stderr)
	}
	return lines
}

func errnoLine(e unix.Errno) string { return "-1 " + strconv.Itoa(int(e)) }

func okLine() string { return strconv.Itoa(os.Getpid()) + " 0" } // getppid in the child

func getppid(args ...uint64) call {
	c := call{Nr: unix.SYS_GETPPID}
	copy(c.Args[:], args)
	return c
}

func TestKernelErrnoAndAllowAndLog(t *testing.T) {
	needRoot(t)
	p := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
		{Names: []string{"getppid"}, Action: specs.ActErrno, ErrnoRet: uptr(uint(unix.EXDEV))},
		{Names: []string{"getpgid"}, Action: specs.ActErrno},
		{Names: []string{"getsid"}, Action: specs.ActLog},
		{Names: []string{"getuid"}, Action: specs.ActAllow},
	}}
	got := results(t, childSpec{Profile: p, Calls: []call{
		getppid(), {Nr: unix.SYS_GETPGID}, {Nr: unix.SYS_GETSID}, {Nr: unix.SYS_GETUID},
	}})
	sid, _ := unix.Getsid(0) // the child is in the test's session
	want := []string{errnoLine(unix.EXDEV), errnoLine(unix.EPERM), strconv.Itoa(sid) + " 0", "0 0"}
	if fmt.Sprint(got[:4]) != fmt.Sprint(want) {
		t.Fatalf("got %q, want %q", got[:4], want)
	}
}

// argCase is one comparison proven both ways on the real kernel.
type argCase struct {
	op             specs.LinuxSeccompOperator
	value, two     uint64
	match, noMatch uint64
}

func TestKernelArgOperators(t *testing.T) {
	needRoot(t)
	cases := []argCase{
		{specs.OpEqualTo, 0x100000002, 0, 0x100000002, 0x2},
		{specs.OpNotEqual, 0x100000002, 0, 0x200000002, 0x100000002},
		{specs.OpLessThan, 0x100000000, 0, 0xffffffff, 0x100000000},
		{specs.OpLessEqual, 0x100000000, 0, 0x100000000, 0x100000001},
		{specs.OpGreaterThan, 0x1ffffffff, 0, 0x200000000, 0x1ffffffff},
		{specs.OpGreaterEqual, 0x200000000, 0, 0x200000000, 0x1ffffffff},
		{specs.OpGreaterThan, 5, 0, 0xffffffffffffffff, 5}, // unsigned: -1 is huge
		{specs.OpMaskedEqual, 0xff000000000000f0, 0x1200000000000030, 0x12abcdef00000034, 0x12abcdef00000044},
		{specs.OpMaskedEqual, 0x00000000000000f0, 0x30, 0xffffffff00000035, 0x40},
	}
	// One syscall per case would run out of harmless syscalls: the cases
	// share getppid, told apart by argument 5, and argument i carries the
	// value under test at index 1..3 in turn.
	p := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow}
	var calls []call
	var want []string
	for i, c := range cases {
		idx := uint(1 + i%3)
		p.Syscalls = append(p.Syscalls, specs.LinuxSyscall{Names: []string{"getppid"}, Action: specs.ActErrno,
			ErrnoRet: uptr(uint(100 + i)), Args: []specs.LinuxSeccompArg{
				{Index: 5, Op: specs.OpEqualTo, Value: uint64(i)},
				{Index: idx, Op: c.op, Value: c.value, ValueTwo: c.two}}})
		m, n := getppid(), getppid()
		m.Args[5], n.Args[5] = uint64(i), uint64(i)
		m.Args[idx], n.Args[idx] = c.match, c.noMatch
		calls = append(calls, m, n)
		want = append(want, errnoLine(unix.Errno(100+i)), okLine())
	}
	got := results(t, childSpec{Profile: p, Calls: calls})
	for i := range want {
		if got[i] != want[i] {
			c := cases[i/2]
			t.Errorf("%s value %#x two %#x arg %#x: got %q, want %q", c.op, c.value, c.two, calls[i].Args[1+(i/2)%3], got[i], want[i])
		}
	}
}

func TestKernelKillProcess(t *testing.T) {
	needRoot(t)
	p := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
		{Names: []string{"getppid"}, Action: specs.ActKillProcess}}}
	_, ws, stderr := child(t, childSpec{Profile: p, Calls: []call{getppid()}})
	if !ws.Signaled() || ws.Signal() != unix.SIGSYS {
		t.Fatalf("want death by SIGSYS, got %v (stderr %q)", ws, stderr)
	}
}

func TestKernelTrap(t *testing.T) {
	needRoot(t)
	p := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
		{Names: []string{"getppid"}, Action: specs.ActTrap}}}
	_, ws, stderr := child(t, childSpec{Profile: p, Calls: []call{getppid()}})
	// SECCOMP_RET_TRAP sends SIGSYS to the thread; the Go runtime treats
	// it as a crash and says so.
	if !strings.Contains(stderr, "SIGSYS") {
		t.Fatalf("want a SIGSYS crash, got %v, stderr %q", ws, stderr)
	}
}

// With the Docker profile the default action applies to syscalls it does
// not name (acct needs CAP_SYS_PACCT), and numbers above the highest one it
// names get ENOSYS.
func TestKernelDockerDefaultActionAndEnosys(t *testing.T) {
	needRoot(t)
	p := dockerProfile(t)
	p.DefaultErrnoRet = uptr(uint(unix.ENXIO))
	got := results(t, childSpec{Profile: p, Calls: []call{
		{Nr: unix.SYS_ACCT}, {Nr: 1000}, getppid(),
	}})
	want := []string{errnoLine(unix.ENXIO), errnoLine(unix.ENOSYS), okLine()}
	if fmt.Sprint(got[:3]) != fmt.Sprint(want) {
		t.Fatalf("got %q, want %q", got[:3], want)
	}
}

func TestKernelDockerProfileRunsBusybox(t *testing.T) {
	needRoot(t)
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("needs /bin/busybox")
	}
	// unshare(2) needs CAP_SYS_ADMIN in Docker's profile; were the filter
	// missing, it would succeed harmlessly.
	lines, ws, stderr := child(t, childSpec{Profile: dockerProfile(t),
		Exec: []string{"/bin/busybox", "sh", "-c", "echo ok; busybox unshare -m true 2>&1; echo rc=$?"}})
	if !ws.Exited() || len(lines) < 3 || lines[0] != "ok" || !strings.Contains(lines[1], "Operation not permitted") ||
		lines[2] != "rc=1" {
		t.Fatalf("status %v, stdout %q, stderr %q", ws, lines, stderr)
	}
}

func TestKernelFlags(t *testing.T) {
	needRoot(t)
	if bad := unsupportedFlags(unix.SECCOMP_FILTER_FLAG_TSYNC | unix.SECCOMP_FILTER_FLAG_LOG |
		unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW | unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV); len(bad) != 0 {
		t.Fatalf("kernel 5.19+ supports every flag, probe says %q", bad)
	}
	old := flagNames
	defer func() { flagNames = old }()
	flagNames = append(flagNames, struct {
		bit  uintptr
		name string
	}{1 << 28, "BOGUS"})
	if bad := unsupportedFlags(1<<28 | unix.SECCOMP_FILTER_FLAG_LOG); fmt.Sprint(bad) != "[BOGUS]" {
		t.Fatalf("probe of an unknown flag = %q", bad)
	}
	f := &Filter{prog: []unix.SockFilter{{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ALLOW}}, flags: 1 << 28}
	if _, err := f.Install(); err == nil || !strings.Contains(err.Error(), "the kernel does not support BOGUS") {
		t.Fatalf("Install with an unknown flag: %v", err)
	}

	for _, tc := range []struct {
		flags []specs.LinuxSeccompFlag
		all   bool // every thread filtered
	}{
		{nil, false},
		{[]specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog, specs.LinuxSeccompFlagSpecAllow}, false},
		{[]specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_TSYNC"}, true},
	} {
		p := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Flags: tc.flags, Syscalls: []specs.LinuxSyscall{
			{Names: []string{"getppid"}, Action: specs.ActErrno}}}
		lines := results(t, childSpec{Profile: p, Calls: []call{getppid()}, Tasks: true})
		if lines[0] != errnoLine(unix.EPERM) {
			t.Errorf("%v: getppid = %q", tc.flags, lines[0])
		}
		filtered, others := 0, 0
		for _, l := range lines[1:] {
			f := strings.Fields(l)
			switch {
			case len(f) == 3 && f[1] == "1":
				filtered++
			case len(f) == 2 && f[1] == "1":
				filtered++
				others++
			case len(f) == 2:
				others++
			case f[1] != "1":
				t.Errorf("%v: own thread has %s filters", tc.flags, f[1])
			}
		}
		if tc.all && filtered != len(lines)-1 || !tc.all && filtered != 1 || others == 0 {
			t.Errorf("%v: per-thread filters %q", tc.flags, lines[1:])
		}
	}
}

// notifyAgent plays the seccomp agent: it accepts one connection on a unix
// socket, reads the process state and the fd, answers one notification
// with val, and reports what it saw.
func notifyAgent(t *testing.T, path string, val int64) <-chan string {
	ln, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Bind(ln, &unix.SockaddrUnix{Name: path}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(ln, 1); err != nil {
		t.Fatal(err)
	}
	res := make(chan string, 1)
	go func() {
		defer unix.Close(ln)
		res <- serveOne(ln, val)
	}()
	return res
}

// seccompNotif and seccompNotifResp are struct seccomp_notif and
// struct seccomp_notif_resp (include/uapi/linux/seccomp.h).
type seccompNotif struct {
	ID    uint64
	Pid   uint32
	Flags uint32
	Nr    int32
	Arch  uint32
	IP    uint64
	Args  [6]uint64
}

type seccompNotifResp struct {
	ID    uint64
	Val   int64
	Error int32
	Flags uint32
}

func serveOne(ln int, val int64) string {
	conn, _, err := unix.Accept(ln)
	if err != nil {
		return "accept: " + err.Error()
	}
	defer unix.Close(conn)
	buf, oob := make([]byte, 65536), make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := unix.Recvmsg(conn, buf, oob, 0)
	if err != nil {
		return "recvmsg: " + err.Error()
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return fmt.Sprintf("control messages: %v %d", err, len(msgs))
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		return fmt.Sprintf("rights: %v %v", err, fds)
	}
	defer unix.Close(fds[0])
	var st specs.ContainerProcessState
	if err := json.Unmarshal(buf[:n], &st); err != nil {
		return "state json: " + err.Error()
	}
	var req seccompNotif
	if err := ioctlPtr(fds[0], unix.SECCOMP_IOCTL_NOTIF_RECV, &req); err != nil {
		return "NOTIF_RECV: " + err.Error()
	}
	resp := seccompNotifResp{ID: req.ID, Val: val}
	if err := ioctlPtr(fds[0], unix.SECCOMP_IOCTL_NOTIF_SEND, &resp); err != nil {
		return "NOTIF_SEND: " + err.Error()
	}
	return fmt.Sprintf("version=%s fds=%v pid=%d meta=%s status=%s id=%s | nr=%d arch=%#x pid=%d arg0=%d",
		st.Version, st.Fds, st.Pid, st.Metadata, st.State.Status, st.State.ID, req.Nr, req.Arch, req.Pid, req.Args[0])
}

func TestKernelNotify(t *testing.T) {
	needRoot(t)
	for _, flags := range [][]specs.LinuxSeccompFlag{nil,
		{specs.LinuxSeccompFlagWaitKillableRecv, "SECCOMP_FILTER_FLAG_TSYNC"}} {
		path := filepath.Join(t.TempDir(), "agent.sock")
		agent := notifyAgent(t, path, 4242)
		if err := ValidateListener(path); err != nil {
			t.Fatal(err)
		}
		p := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, ListenerPath: path, ListenerMetadata: "meta-1",
			Flags: flags, Syscalls: []specs.LinuxSyscall{{Names: []string{"getppid"}, Action: specs.ActNotify}}}
		lines, ws, stderr := child(t, childSpec{Profile: p, Listener: path, Calls: []call{getppid(77)}})
		if !ws.Exited() || ws.ExitStatus() != 0 || lines[0] != "4242 0" {
			t.Fatalf("%v: child %v, stdout %q, stderr %q", flags, ws, lines, stderr)
		}
		saw := <-agent
		pre := fmt.Sprintf("version=%s fds=[seccompFd] pid=", specs.Version)
		post := fmt.Sprintf(" meta=meta-1 status=creating id=gocker-test | nr=%d arch=%#x pid=", unix.SYS_GETPPID, auditX86_64)
		if !strings.HasPrefix(saw, pre) || !strings.Contains(saw, post) || !strings.HasSuffix(saw, " arg0=77") {
			t.Fatalf("agent saw %q", saw)
		}
	}
}

func TestListenerErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "nope.sock")
	if err := ValidateListener(missing); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("ValidateListener(missing) = %v", err)
	}
	if err := ValidateListener(dir); err == nil || !strings.Contains(err.Error(), "is not a unix socket") {
		t.Errorf("ValidateListener(dir) = %v", err)
	}
	err := SendToListener(missing, 0, &specs.ContainerProcessState{})
	if err == nil || !strings.Contains(err.Error(), "connecting to "+missing) {
		t.Errorf("SendToListener(missing) = %v", err)
	}
}

// BenchmarkDockerInstall reports, from a fresh child, the cost of
// Compile and Install of Docker's profile and getppid's cost before and
// after (the per-syscall filter overhead).
func BenchmarkDockerInstall(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	var comp, inst, before, after, n float64
	for i := 0; i < b.N; i++ {
		lines, ws, stderr := child(b, childSpec{Profile: dockerProfile(b), Bench: 2000000})
		if !ws.Exited() || ws.ExitStatus() != 0 {
			b.Fatalf("child %v %q %q", ws, lines, stderr)
		}
		var c, in, l int64
		var bf, af float64
		if _, err := fmt.Sscanf(lines[0], "BENCH %d %d %f %f %d", &c, &in, &bf, &af, &l); err != nil {
			b.Fatal(err, lines)
		}
		comp, inst, before, after, n = comp+float64(c), inst+float64(in), before+bf, after+af, float64(l)
	}
	N := float64(b.N)
	b.ReportMetric(comp/N/1000, "compile-µs")
	b.ReportMetric(inst/N/1000, "install-µs")
	b.ReportMetric(before/N, "getppid-ns")
	b.ReportMetric(after/N, "getppid-filtered-ns")
	b.ReportMetric(n, "insns")
}

func ioctlPtr[T any](fd int, req uint, p *T) error {
	_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), uintptr(unsafe.Pointer(p)))
	if e != 0 {
		return e
	}
	return nil
}

package rootfs

// The tests run Prepare/Pivot/Finish for real, as root, in a child process
// with its own mount namespace: TestMain re-executes the test binary with
// an environment marker, the child builds the container root, runs busybox
// commands inside it and prints a JSON report on stdout. The namespace
// dies with the child, so nothing reaches the host; every test also checks
// the host's mountinfo afterwards.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

const (
	envConfig = "GOCKER_ROOTFS_TEST_CONFIG" // path of the childConfig JSON
	envLevel  = "GOCKER_ROOTFS_TEST_LEVEL"  // "outer" or "inner"
)

// childConfig is what the parent test asks a child to do.
type childConfig struct {
	Spec        *specs.Spec
	Rootfs      string
	NoPivot     bool
	CgroupNS    bool
	CgroupPaths map[string]string
	// Outer, when set, runs these host shell commands in an outer mount
	// namespace (made rslave first) and then starts the real child with
	// InnerFlags: the way to give a user-namespaced child mounts with
	// locked flags.
	Outer      []string
	InnerFlags uintptr
	UserNS     bool
	// PrePrepare: host shell commands run in the child's namespace (after
	// "/" was made rslave) before Prepare.
	PrePrepare []string
	// PrePivot: host shell commands run after Prepare, before Pivot.
	PrePivot []string
	Console  bool
	// Cmds: shell commands run inside the container after Finish.
	Cmds []string
	// UIDMap, GIDMap replace the child's user namespace mappings (default:
	// 0 -> host 0, size 1). Only with UserNS.
	UIDMap, GIDMap []specs.LinuxIDMapping
	// IDMapParent: the test process makes the idmapped mounts the child
	// asks for (Options.IDMapped), as gocker's parent does for a container
	// with its own user namespace. Not with Outer.
	IDMapParent bool
}

type cmdResult struct {
	Cmd  string
	Out  string
	Code int
}

type childResult struct {
	Stage    string // the step that failed: prepare, pivot, console, finish
	Err      string
	Errno    int
	PrePivot []cmdResult
	Cmds     []cmdResult
	Console  string // the pts path bound onto /dev/console
}

func TestMain(m *testing.M) {
	switch os.Getenv(envLevel) {
	case "outer":
		os.Exit(runOuter())
	case "inner":
		runtime.LockOSThread()
		os.Exit(runInner())
	}
	os.Exit(m.Run())
}

func readConfig() (*childConfig, error) {
	b, err := os.ReadFile(os.Getenv(envConfig))
	if err != nil {
		return nil, err
	}
	var c childConfig
	return &c, json.Unmarshal(b, &c)
}

func runOuter() int {
	c, err := readConfig()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	cmds := append([]string{"mount --make-rslave /"}, c.Outer...)
	for _, cmd := range cmds {
		if out, err := exec.Command("/bin/sh", "-c", cmd).CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "outer %q: %v: %s\n", cmd, err, out)
			return 2
		}
	}
	cmd := childCommand(context.Background(), os.Getenv(envConfig), "inner", c.InnerFlags, c)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "inner:", err)
		return 2
	}
	return 0
}

// runInner is the container side: it never fails the process for a
// rootfs error, it reports it.
func runInner() int {
	c, err := readConfig()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	res := runSteps(c)
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		return 2
	}
	return 0
}

func runSteps(c *childConfig) *childResult {
	res := &childResult{}
	fail := func(stage string, err error) *childResult {
		res.Stage, res.Err = stage, err.Error()
		var errno unix.Errno
		if errors.As(err, &errno) {
			res.Errno = int(errno)
		}
		return res
	}
	if err := unix.Mount("", "/", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return fail("setup", err)
	}
	for _, cmd := range c.PrePrepare {
		if r := shell(cmd); r.Code != 0 {
			return fail("setup", fmt.Errorf("%q: %s", cmd, r.Out))
		}
	}
	o := &Options{Spec: c.Spec, Rootfs: c.Rootfs, NoPivot: c.NoPivot, CgroupNS: c.CgroupNS, CgroupPaths: c.CgroupPaths}
	if c.IDMapParent {
		o.IDMapped = askParentIDMapped
	}
	if err := Prepare(o); err != nil {
		return fail("prepare", err)
	}
	for _, cmd := range c.PrePivot {
		res.PrePivot = append(res.PrePivot, shell(cmd))
	}
	if err := Pivot(o); err != nil {
		return fail("pivot", err)
	}
	if c.Console {
		pts, err := openConsole()
		if err != nil {
			return fail("console", err)
		}
		res.Console = pts
	}
	if err := Finish(o); err != nil {
		return fail("finish", err)
	}
	for _, cmd := range c.Cmds {
		res.Cmds = append(res.Cmds, shell(cmd))
	}
	return res
}

// openConsole allocates a pty from the container's devpts and binds its
// slave onto /dev/console, as the init does for terminal: true.
func openConsole() (string, error) {
	master, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", err
	}
	// The master stays open for the rest of the child's life: the slave
	// node disappears when the last master reference goes.
	if err := unix.IoctlSetPointerInt(master, unix.TIOCSPTLCK, 0); err != nil {
		return "", err
	}
	n, err := unix.IoctlGetInt(master, unix.TIOCGPTN)
	if err != nil {
		return "", err
	}
	pts := fmt.Sprintf("/dev/pts/%d", n)
	return pts, SetupConsole(pts)
}

func shell(cmd string) cmdResult {
	c := exec.Command("/bin/sh", "-c", cmd)
	c.Env = []string{"PATH=/bin:/sbin:/usr/bin:/usr/sbin"}
	out, err := c.CombinedOutput()
	r := cmdResult{Cmd: cmd, Out: strings.TrimSpace(string(out))}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.Code = ee.ExitCode()
	case err != nil:
		r.Code, r.Out = -1, err.Error()
	}
	return r
}

func childCommand(ctx context.Context, config, level string, flags uintptr, c *childConfig) *exec.Cmd {
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envConfig+"="+config, envLevel+"="+level)
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: flags, Pdeathsig: syscall.SIGKILL}
	if c.UserNS && level == "inner" {
		cmd.SysProcAttr.Cloneflags |= unix.CLONE_NEWUSER
		// Root of the new user namespace is host root: enough to own the
		// rootfs files, yet mknod and locked mounts behave as in any
		// user-namespaced container.
		cmd.SysProcAttr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}}
		cmd.SysProcAttr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}}
		if c.UIDMap != nil {
			cmd.SysProcAttr.UidMappings, cmd.SysProcAttr.GidMappings = sysIDMaps(c.UIDMap), sysIDMaps(c.GIDMap)
		}
		cmd.SysProcAttr.GidMappingsEnableSetgroups = true
	}
	return cmd
}

const baseFlags = unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC

// run executes c in a child and returns its report. It fails the test when
// the child crashes or when the host's mountinfo mentions any of the
// test's directories afterwards.
func run(t *testing.T, c *childConfig) *childResult {
	t.Helper()
	requireRoot(t)
	dir := t.TempDir()
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "config.json")
	if err := os.WriteFile(cfg, b, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var cmd *exec.Cmd
	if c.Outer != nil {
		cmd = childCommand(ctx, cfg, "outer", unix.CLONE_NEWNS, c)
	} else {
		cmd = childCommand(ctx, cfg, "inner", baseFlags|c.InnerFlags, c)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := runChild(t, cmd, c); err != nil {
		t.Fatalf("child: %v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
	}
	checkNoLeak(t, c.Rootfs)
	var res childResult
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("child report: %v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
	}
	return &res
}

// checkNoLeak fails if the host's mount table mentions the test's temp
// directory (the parent of the rootfs).
func checkNoLeak(t *testing.T, rootfs string) {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	base := filepath.Dir(rootfs)
	for _, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, base) {
			t.Errorf("mount leaked to the host: %s", line)
		}
	}
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
}

// mustSucceed fails the test if the child reported an error.
func mustSucceed(t *testing.T, res *childResult) {
	t.Helper()
	if res.Err != "" {
		t.Fatalf("%s: %s", res.Stage, res.Err)
	}
}

// newRootfs builds a busybox rootfs in a fresh temp directory.
func newRootfs(t *testing.T) string {
	t.Helper()
	requireRoot(t)
	dir := filepath.Join(t.TempDir(), "rootfs")
	out, err := exec.Command("../../bundles/mkrootfs.sh", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("mkrootfs: %v: %s", err, out)
	}
	return dir
}

// baseMounts are the mounts of runc's default spec.
func baseMounts() []specs.Mount {
	return []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc"},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
	}
}

func newSpec(mounts ...specs.Mount) *specs.Spec {
	return &specs.Spec{
		Root:   &specs.Root{Path: "rootfs"},
		Mounts: append(baseMounts(), mounts...),
		Linux:  &specs.Linux{},
	}
}

// mountLine returns the line of mountinfo output (as printed by
// "cat /proc/self/mountinfo") whose mount point is mp; the last one wins
// as it is the top of the stack.
func mountLine(mountinfo, mp string) string {
	var found string
	for _, line := range strings.Split(mountinfo, "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && f[4] == mp {
			found = line
		}
	}
	return found
}

// mountFields splits a mountinfo line into per-mount options, optional
// fields, fs type, source and super options.
type mountFields struct {
	root, opts, optional, fstype, source, super string
}

func parseMountLine(line string) (mountFields, bool) {
	pre, post, ok := strings.Cut(line, " - ")
	if !ok {
		return mountFields{}, false
	}
	f, g := strings.Fields(pre), strings.Fields(post)
	if len(f) < 6 || len(g) < 3 {
		return mountFields{}, false
	}
	return mountFields{root: f[3], opts: f[5], optional: strings.Join(f[6:], " "),
		fstype: g[0], source: g[1], super: g[2]}, true
}

func hasOpt(list, opt string) bool {
	for _, o := range strings.Split(list, ",") {
		if o == opt {
			return true
		}
	}
	return false
}

// cmd returns the i-th command result, failing the test if it is missing.
func (r *childResult) cmd(t *testing.T, i int) cmdResult {
	t.Helper()
	if i >= len(r.Cmds) {
		t.Fatalf("command %d not run; report: %+v", i, r)
	}
	return r.Cmds[i]
}

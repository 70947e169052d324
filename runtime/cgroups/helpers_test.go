package cgroups

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The test binary doubles as a helper process: with GOCKER_CGROUP_HELPER
// set it waits for a byte on stdin (so the test can move it into the cgroup
// first), does its job and sleeps.
const helperEnv = "GOCKER_CGROUP_HELPER"

func TestMain(m *testing.M) {
	if job := os.Getenv(helperEnv); job != "" {
		runHelper(job)
		return
	}
	os.Exit(m.Run())
}

var sink [][]byte

func runHelper(job string) {
	var b [1]byte
	_, _ = os.Stdin.Read(b[:])
	var mib int
	if _, err := fmt.Sscanf(job, "alloc=%d", &mib); err == nil {
		// Touch every page so it is charged to the memory cgroup.
		for range mib {
			chunk := make([]byte, 1<<20)
			for i := 0; i < len(chunk); i += 4096 {
				chunk[i] = 1
			}
			sink = append(sink, chunk)
		}
		fmt.Println("allocated")
	}
	time.Sleep(time.Hour)
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create cgroups")
	}
}

func requireV1(t *testing.T) {
	t.Helper()
	requireRoot(t)
	if IsV2() {
		t.Skip("checks cgroup v1 files; the v2 variant is TestV2Files")
	}
}

var nonName = regexp.MustCompile(`[^a-zA-Z0-9-]+`)

// testID is unique per test and contains "gocker-test" so a leak is easy
// to spot and to attribute.
func testID(t *testing.T) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := strings.ToLower(nonName.ReplaceAllString(t.Name(), "-"))
	if len(name) > 40 {
		name = name[:40]
	}
	return "gocker-test-" + name + "-" + hex.EncodeToString(b)
}

// newManager builds a manager and registers its teardown: kill, destroy,
// and a check that no directory of it is left in any hierarchy.
func newManager(t *testing.T, id, path string, res *specs.LinuxResources, o Options) *Manager {
	t.Helper()
	m, err := New(id, path, res, o)
	if err != nil {
		t.Fatalf("New(%q, %q): %v", id, path, err)
	}
	t.Cleanup(func() {
		if m.shared {
			return
		}
		if err := m.KillAll(); err != nil {
			t.Errorf("cleanup KillAll: %v", err)
		}
		if err := m.Destroy(); err != nil {
			t.Errorf("cleanup Destroy: %v", err)
		}
		assertGone(t, m)
	})
	return m
}

// assertGone checks that none of the manager's directories exists.
func assertGone(t *testing.T, m *Manager) {
	t.Helper()
	for ctrl, p := range m.Paths() {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("cgroup %s still exists in hierarchy %q (stat: %v)", p, ctrl, err)
		}
	}
}

// assertNoTestLeftovers checks that no "gocker-test" cgroup exists in any
// hierarchy, at the top level (also as a default gocker-<id>) or under the
// gocker parent, and that the parent, if present, is not empty (Destroy
// prunes an empty one; other containers may legitimately be running on
// this machine).
func assertNoTestLeftovers(t *testing.T, id string) {
	t.Helper()
	for _, pat := range []string{"/sys/fs/cgroup/*/" + id + "*", "/sys/fs/cgroup/*" + Parent + "/" + id + "*",
		"/sys/fs/cgroup/" + id + "*", "/sys/fs/cgroup" + Parent + "/" + id + "*",
		"/sys/fs/cgroup/*/" + DefaultPrefix + id + "*", "/sys/fs/cgroup/" + DefaultPrefix + id + "*"} {
		left, _ := filepath.Glob(pat)
		if len(left) > 0 {
			t.Errorf("left behind: %v", left)
		}
	}
	parents, _ := filepath.Glob("/sys/fs/cgroup/*" + Parent)
	for _, p := range parents {
		entries, _ := os.ReadDir(p)
		sub := 0
		for _, e := range entries {
			if e.IsDir() {
				sub++
			}
		}
		if sub == 0 {
			t.Errorf("empty parent %s left behind", p)
		}
	}
}

// proc is a helper process waiting for a byte on stdin.
type proc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader // the helper's stdout
	done  chan struct{} // closed once Wait returned
}

func startHelper(t *testing.T, job string) *proc {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return startCmd(t, exec.Command(self), helperEnv+"="+job)
}

func startShell(t *testing.T, script string) *proc {
	t.Helper()
	return startCmd(t, exec.Command("/bin/sh", "-c", "read go; "+script))
}

func startCmd(t *testing.T, cmd *exec.Cmd, env ...string) *proc {
	t.Helper()
	cmd.Env = append(os.Environ(), env...)
	// An os.Pipe rather than StdoutPipe: Wait runs concurrently and would
	// close a StdoutPipe under a pending read.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	cmd.Stdout = w
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	err = cmd.Start()
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, stdin: stdin, out: bufio.NewReader(r), done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			t.Errorf("helper %d did not exit", cmd.Process.Pid)
		}
	})
	return p
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// release lets the helper go on with its job.
func (p *proc) release(t *testing.T) {
	t.Helper()
	if _, err := p.stdin.Write([]byte("\n")); err != nil {
		t.Fatalf("release helper: %v", err)
	}
}

// readLine reads one line of the helper's output.
func (p *proc) readLine(t *testing.T) string {
	t.Helper()
	line, err := p.out.ReadString('\n')
	if err != nil {
		t.Fatalf("read helper output: %v (got %q)", err, line)
	}
	return strings.TrimSpace(line)
}

// waitExit waits for the helper and returns the signal that killed it.
func (p *proc) waitExit(t *testing.T, d time.Duration) syscall.Signal {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(d):
		t.Fatalf("helper %d still running after %v", p.pid(), d)
	}
	if ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return ws.Signal()
	}
	return 0
}

func readFile(t *testing.T, m *Manager, ctrl, file string) string {
	t.Helper()
	dir := m.Paths()[ctrl]
	if dir == "" {
		t.Fatalf("no %q hierarchy in %v", ctrl, m.Paths())
	}
	b, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func expectFile(t *testing.T, m *Manager, ctrl, file, want string) {
	t.Helper()
	if got := readFile(t, m, ctrl, file); got != want {
		t.Errorf("%s/%s = %q, want %q", ctrl, file, got, want)
	}
}

// alive reports whether pid is a live (non-zombie) process.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

func ptr[T any](v T) *T { return &v }

// sleeperIn starts a sleeping shell in m's cgroup (Apply).
func sleeperIn(t *testing.T, m *Manager) *proc {
	t.Helper()
	p := startShell(t, "exec sleep 1000")
	if err := m.Apply(p.pid()); err != nil {
		t.Fatal(err)
	}
	return p
}

// allocatedIn starts the helper in m's cgroup (Apply) and waits until it
// holds mb MiB of anonymous memory.
func allocatedIn(t *testing.T, m *Manager, mb int) *proc {
	t.Helper()
	p := startHelper(t, "alloc="+strconv.Itoa(mb))
	if err := m.Apply(p.pid()); err != nil {
		t.Fatal(err)
	}
	p.release(t)
	if line := p.readLine(t); line != "allocated" {
		t.Fatalf("helper said %q", line)
	}
	return p
}

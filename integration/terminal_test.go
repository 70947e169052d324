package integration

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The three terminal modes of runc's docs/terminals.md: foreground with a
// tty (the runtime proxies a pty to its own terminal), detached with a
// console socket (console_test.go, exec_test.go), and pass-through stdio.

// ptyCall is a runtime invocation whose controlling terminal and stdio is
// a pty the test holds, as when a user types `runc exec -t` in a shell.
type ptyCall struct {
	t      *testing.T
	master *os.File
	slave  *os.File
	cmd    *exec.Cmd
	mu     sync.Mutex
	out    bytes.Buffer
	eof    chan struct{}
}

func (e *env) rtPty(rows, cols uint16, args ...string) *ptyCall {
	e.t.Helper()
	master, slave, err := pty.Open()
	if err != nil {
		e.t.Fatal(err)
	}
	if err := pty.Setsize(master, &pty.Winsize{Rows: rows, Cols: cols}); err != nil {
		e.t.Fatal(err)
	}
	full := append([]string{"--root", e.root, "--log", e.logFile, "--log-format", "json"}, args...)
	cmd := exec.Command(runtimePath, full...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	p := &ptyCall{t: e.t, master: master, slave: slave, cmd: cmd, eof: make(chan struct{})}
	e.t.Cleanup(func() {
		cmd.Process.Kill()
		p.slave.Close()
		master.Close()
	})
	go p.read()
	return p
}

func (p *ptyCall) read() {
	buf := make([]byte, 4096)
	for {
		n, err := p.master.Read(buf)
		p.mu.Lock()
		p.out.Write(buf[:n])
		p.mu.Unlock()
		if err != nil {
			close(p.eof)
			return
		}
	}
}

func (p *ptyCall) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.ReplaceAll(p.out.String(), "\r", "")
}

func (p *ptyCall) waitOutput(sub string) {
	p.t.Helper()
	if !waitFor(defaultTimeout, func() bool { return strings.Contains(p.output(), sub) }) {
		p.t.Fatalf("terminal never showed %q; it shows %q", sub, p.output())
	}
}

// wait returns the runtime's exit code.
func (p *ptyCall) wait() int {
	p.t.Helper()
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(defaultTimeout):
		p.t.Fatalf("runtime did not exit; terminal shows %q", p.output())
	}
	return p.cmd.ProcessState.ExitCode()
}

// raw reports whether the test's terminal is in raw mode (no echo, no
// line editing), as the runtime must set it while proxying.
func (p *ptyCall) raw() bool {
	p.t.Helper()
	tio, err := unix.IoctlGetTermios(int(p.slave.Fd()), unix.TCGETS)
	if err != nil {
		p.t.Fatal(err)
	}
	return tio.Lflag&(unix.ECHO|unix.ICANON) == 0
}

// resizeScript prints the size, then waits until the pty it sees has been
// resized to 50x120 (SIGWINCH forwarded by the runtime), and exits 7.
const resizeScript = `stty size; echo ready; while [ "$(stty size)" != "50 120" ]; do sleep 0.1; done; echo resized; exit 7`

func (p *ptyCall) checkForeground() {
	p.t.Helper()
	p.waitOutput("ready\n")
	// runc 1.1 sizes the pty only after the process has started, so its
	// first `stty size` races with that; gocker sizes it before.
	if isGocker() && !strings.Contains(p.output(), "24 80\n") {
		p.t.Errorf("the process's pty did not get the caller's size 24x80: %q", p.output())
	}
	if !p.raw() {
		p.t.Error("the caller's terminal is not in raw mode while the runtime proxies it")
	}
	if err := pty.Setsize(p.master, &pty.Winsize{Rows: 50, Cols: 120}); err != nil {
		p.t.Fatal(err)
	}
	p.waitOutput("resized\n")
	if code := p.wait(); code != 7 {
		p.t.Errorf("runtime exit code %d, want the process's 7; terminal: %q", code, p.output())
	}
	if p.raw() {
		p.t.Error("the caller's terminal is still raw after the runtime exited")
	}
}

func TestTerminalForegroundExec(t *testing.T) {
	crunDiffers(t, `crun does not pass the caller's window size changes on to the container's terminal`)
	e := newEnv(t)
	id := e.id("fgexec")
	e.createStarted(id, nil)
	e.rtPty(24, 80, "exec", "--tty", id, "sh", "-c", resizeScript).checkForeground()
	e.wantStatus(id, "running")
}

func TestTerminalForegroundRun(t *testing.T) {
	crunDiffers(t, `crun does not pass the caller's window size changes on to the container's terminal`)
	e := newEnv(t)
	id := e.id("fgrun")
	bundle := e.bundle(id, chain(sh(resizeScript), func(s *specs.Spec) { s.Process.Terminal = true }))
	e.rtPty(24, 80, "run", "--bundle", bundle, id).checkForeground()
	e.wantGone(id)
}

// TestTerminalStdinToProcess: what the user types reaches the process
// through the proxy, and the process's output comes back.
func TestTerminalStdinToProcess(t *testing.T) {
	e := newEnv(t)
	id := e.id("fgstdin")
	e.createStarted(id, nil)
	p := e.rtPty(24, 80, "exec", "-t", id, "sh", "-c", `echo ready; read line; echo "got:$line"`)
	p.waitOutput("ready\n")
	if _, err := p.master.Write([]byte("typed-text\r")); err != nil {
		t.Fatal(err)
	}
	p.waitOutput("got:typed-text\n")
	if code := p.wait(); code != 0 {
		t.Errorf("exit code %d", code)
	}
}

// statPipe makes a pipe and stats its write end, so a test can check that
// the container's stdout is that very pipe (pass-through, no proxy).
func statPipe(t *testing.T) (rd, wr *os.File, st syscall.Stat_t) {
	t.Helper()
	rd, wr, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Fstat(int(wr.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	return rd, wr, st
}

// TestPassThroughRun: `run` without a terminal hands the caller's pipes to
// the container as they are, and returns when the container exits.
func TestPassThroughRun(t *testing.T) {
	e := newEnv(t)
	id := e.id("passrun")
	bundle := e.bundle(id, sh("cat; readlink /proc/self/fd/1"))
	rd, wr, st := statPipe(t)
	defer rd.Close()
	var out bytes.Buffer
	done := make(chan struct{})
	go func() { out.ReadFrom(rd); close(done) }()
	r := e.rtOpts(opts{stdin: strings.NewReader("through-the-pipe\n"), stdout: wr}, "run", "--bundle", bundle, id)
	wr.Close()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("stdout pipe still open after run returned")
	}
	if r.code != 0 || r.err != nil {
		t.Fatalf("run with pipes: %s", r)
	}
	checkPassThrough(t, out.String(), "through-the-pipe", st.Ino)
}

// TestPassThroughDetached: create with stdio pipes returns at once (the
// container keeps the pipes, not the runtime), and the container's output
// arrives on the caller's pipe, which ends when the container exits.
func TestPassThroughDetached(t *testing.T) {
	e := newEnv(t)
	id := e.id("passdetach")
	bundle := e.bundle(id, sh("echo out-line; echo err-line >&2; readlink /proc/self/fd/1"))
	rd, wr, st := statPipe(t)
	defer rd.Close()
	full := append([]string{"--root", e.root, "--log", e.logFile, "--log-format", "json"}, "create", "--bundle", bundle, id)
	cmd := exec.Command(runtimePath, full...)
	cmd.Stdout, cmd.Stderr = wr, wr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	select {
	case err := <-waited:
		if err != nil {
			t.Fatalf("create with pipes: %v", err)
		}
	case <-time.After(defaultTimeout):
		cmd.Process.Kill()
		t.Fatal("create with stdio pipes did not return")
	}
	wr.Close()
	e.wantStatus(id, "created")
	e.ok(e.rt("start", id))
	var out bytes.Buffer
	done := make(chan struct{})
	go func() { out.ReadFrom(rd); close(done) }()
	select {
	case <-done:
	case <-time.After(defaultTimeout):
		t.Fatalf("pipe never reached EOF; read so far %q", out.String())
	}
	want := fmt.Sprintf("out-line\nerr-line\npipe:[%d]", st.Ino)
	if got := strings.TrimSpace(out.String()); got != want {
		t.Errorf("container output on the caller's pipe %q, want %q", got, want)
	}
	e.waitStatus(id, "stopped", 10*time.Second)
}

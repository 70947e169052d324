package integration

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/containerd/console"
	runc "github.com/containerd/go-runc"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// These tests drive the runtime through github.com/containerd/go-runc, the
// way containerd's shim does: JSON log, console sockets, pid files, exec
// from a process.json, numeric signals, and the last error line of the
// log as the error shown to the user.

func (e *env) goRunc() *runc.Runc {
	return &runc.Runc{Command: runtimePath, Root: e.root, Log: e.logFile, LogFormat: runc.JSON}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), defaultTimeout)
	t.Cleanup(cancel)
	return ctx
}

// lastLogError is containerd's getLastRuntimeError: every line of the log
// must decode as JSON, and the message of the last "error" line is what
// the user sees.
func lastLogError(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var msg string
	dec := json.NewDecoder(f)
	for {
		var l struct{ Level, Msg string }
		if err := dec.Decode(&l); err == io.EOF {
			return msg
		} else if err != nil {
			t.Fatalf("log %s is not a stream of JSON objects: %v", path, err)
		}
		if l.Level == "error" {
			msg = strings.TrimSpace(l.Msg)
		}
	}
}

// receive waits for the fd sent to a go-runc socket, in the background so
// that a runtime failing to send cannot hang the test.
func receiveMaster(t *testing.T, s *runc.Socket) console.Console {
	t.Helper()
	type res struct {
		c   console.Console
		err error
	}
	ch := make(chan res, 1)
	go func() { c, err := s.ReceiveMaster(); ch <- res{c, err} }()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("receive pty master: %v", r.err)
		}
		t.Cleanup(func() { r.c.Close() })
		return r.c
	case <-time.After(defaultTimeout):
		s.Close()
		t.Fatal("runtime never sent the pty master")
	}
	return nil
}

func readUntilEOF(t *testing.T, r io.Reader) string {
	t.Helper()
	ch := make(chan string, 1)
	go func() {
		var b strings.Builder
		buf := make([]byte, 4096)
		for {
			n, err := r.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		ch <- b.String()
	}()
	select {
	case s := <-ch:
		return strings.ReplaceAll(s, "\r", "")
	case <-time.After(defaultTimeout):
		t.Fatal("output never ended")
	}
	return ""
}

func readPid(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("pid file %s: %q", path, b)
	}
	return pid
}

// nullIO is a fresh /dev/null IO: go-runc closes it after each start.
func nullIO(t *testing.T) runc.IO {
	t.Helper()
	nio, err := runc.NewNullIO()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nio.Close() })
	return nio
}

func unknownVerb(err error) bool {
	s := strings.ToLower(err.Error())
	return strings.Contains(s, "no help topic") || strings.Contains(s, "unknown command") || strings.Contains(s, "command not found")
}

// TestGoRuncLifecycle is containerd's path for a task with a terminal:
// create with a console socket, start, exec detached with a pid file, exec
// with a tty, ps, pause/resume, kill, state, delete.
func TestGoRuncLifecycle(t *testing.T) {
	crunDiffers(t, `crun words errors its own way (e.g. "kill container: No such process"); containerd matches runc's words`)
	e := newEnv(t)
	r, ctx := e.goRunc(), testCtx(t)
	id := e.id("gorunc")
	bundle := e.bundle(id, chain(sh("echo hello-from-init; exec sleep 1000"), func(s *specs.Spec) { s.Process.Terminal = true }))
	sock, err := runc.NewTempConsoleSocket()
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	pidFile := filepath.Join(e.dir, "init.pid")
	if err := r.Create(ctx, id, bundle, &runc.CreateOpts{ConsoleSocket: sock, PidFile: pidFile}); err != nil {
		t.Fatalf("create: %v (log: %s)", err, lastLogError(t, e.logFile))
	}
	master := receiveMaster(t, sock)
	initPid := readPid(t, pidFile)
	e.trackPid(initPid)
	if c, err := r.State(ctx, id); err != nil || c.Status != "created" || c.Pid != initPid {
		t.Fatalf("state after create: %+v, %v; want created with pid %d", c, err, initPid)
	}
	if err := r.Start(ctx, id); err != nil {
		t.Fatalf("start: %v", err)
	}
	buf := make([]byte, 64)
	if n, _ := io.ReadAtLeast(master, buf, len("hello-from-init")); !strings.Contains(string(buf[:n]), "hello-from-init") {
		t.Errorf("init's pty output %q", buf[:n])
	}
	if c, err := r.State(ctx, id); err != nil || c.Status != "running" || c.Pid != initPid {
		t.Fatalf("state after start: %+v, %v", c, err)
	}
	list, err := r.List(ctx)
	if err != nil || len(list) != 1 || list[0].ID != id || list[0].Pid != initPid || list[0].Bundle != bundle {
		t.Errorf("list: %+v, %v", list, err)
	}

	execPid := goRuncExecDetached(t, e, r, id)
	goRuncExecTTY(t, e, r, id)
	goRuncExecForeground(t, r, id)

	if pids, err := r.Ps(ctx, id); err != nil && unknownVerb(err) {
		t.Logf("ps not available, skipped: %v", err)
	} else if err != nil {
		t.Errorf("ps: %v", err)
	} else if !containsAll(pids, initPid, execPid) {
		t.Errorf("ps: %v, want the init %d and the exec'd %d", pids, initPid, execPid)
	}
	if err := r.Pause(ctx, id); err != nil && unknownVerb(err) {
		t.Logf("pause not available, skipped: %v", err)
	} else if err != nil {
		t.Errorf("pause: %v", err)
	} else {
		if c, _ := r.State(ctx, id); c == nil || c.Status != "paused" {
			t.Errorf("state after pause: %+v", c)
		}
		if err := r.Resume(ctx, id); err != nil {
			t.Errorf("resume: %v", err)
		}
		if c, _ := r.State(ctx, id); c == nil || c.Status != "running" {
			t.Errorf("state after resume: %+v", c)
		}
	}

	if err := r.Kill(ctx, id, int(unix.SIGKILL), nil); err != nil {
		t.Fatalf("kill 9: %v", err)
	}
	if !waitFor(10*time.Second, func() bool { c, err := r.State(ctx, id); return err == nil && c.Status == "stopped" }) {
		t.Fatal("container never stopped after kill 9")
	}
	if c, _ := r.State(ctx, id); c.Pid != 0 {
		t.Errorf("state of a stopped container: pid %d, want 0", c.Pid)
	}
	// containerd matches these words in the error of kill on a dead task.
	if err := r.Kill(ctx, id, int(unix.SIGTERM), nil); err == nil {
		t.Error("kill of a stopped container succeeded")
	} else if msg := lastLogError(t, e.logFile); !strings.Contains(msg, "container not running") {
		t.Errorf("last log error of kill on a stopped container: %q, want \"container not running\"", msg)
	}
	if err := r.Delete(ctx, id, nil); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, err := r.State(ctx, id); err == nil {
		t.Fatal("state of a deleted container succeeded")
	} else if msg := lastLogError(t, e.logFile); !strings.Contains(msg, "does not exist") {
		t.Errorf("last log error of state on a deleted container: %q, want \"does not exist\"", msg)
	}
}

func containsAll(list []int, want ...int) bool {
	for _, w := range want {
		found := false
		for _, v := range list {
			found = found || v == w
		}
		if !found {
			return false
		}
	}
	return true
}

// goRuncExecDetached is containerd's exec without a terminal: a
// process.json, --detach, --pid-file, stdio from the shim's fifos (here a
// null IO so that no pipe of ours is held by the process).
func goRuncExecDetached(t *testing.T, e *env, r *runc.Runc, id string) int {
	t.Helper()
	ctx := testCtx(t)
	nio, err := runc.NewNullIO()
	if err != nil {
		t.Fatal(err)
	}
	defer nio.Close()
	pf := filepath.Join(e.dir, "exec.pid")
	proc := specs.Process{Args: []string{"sleep", "1000"}, Cwd: "/", Env: []string{"PATH=/bin"}}
	if err := r.Exec(ctx, id, proc, &runc.ExecOpts{IO: nio, PidFile: pf, Detach: true}); err != nil {
		t.Fatalf("exec --detach: %v (log: %s)", err, lastLogError(t, e.logFile))
	}
	pid := readPid(t, pf)
	e.trackPid(pid)
	// runc may still be finishing its setup in that process when exec
	// returns; it becomes the sleep shortly.
	if !waitFor(5*time.Second, func() bool {
		b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
		return string(b) == "sleep\x001000\x00"
	}) {
		t.Errorf("exec pid file names %d, which is not the exec'd sleep: %q", pid, readProc(t, pid, "cmdline"))
	}
	return pid
}

// goRuncExecTTY is containerd's exec with a terminal: the pty master comes
// over a console socket and exec returns at once.
func goRuncExecTTY(t *testing.T, e *env, r *runc.Runc, id string) {
	t.Helper()
	ctx := testCtx(t)
	sock, err := runc.NewTempConsoleSocket()
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	nio, err := runc.NewNullIO()
	if err != nil {
		t.Fatal(err)
	}
	defer nio.Close()
	proc := specs.Process{Args: []string{"sh", "-c", "tty; stty size"}, Cwd: "/", Env: []string{"PATH=/bin"},
		Terminal: true, ConsoleSize: &specs.Box{Height: 21, Width: 77}}
	errc := make(chan error, 1)
	go func() {
		errc <- r.Exec(ctx, id, proc, &runc.ExecOpts{IO: nio, ConsoleSocket: sock, Detach: true})
	}()
	master := receiveMaster(t, sock)
	if err := <-errc; err != nil {
		t.Fatalf("exec --tty: %v (log: %s)", err, lastLogError(t, e.logFile))
	}
	out := readUntilEOF(t, master)
	if !strings.Contains(out, "/dev/pts/") || !strings.Contains(out, "21 77") {
		t.Errorf("exec --tty output %q, want a /dev/pts name and the size 21 77", out)
	}
}

// goRuncExecForeground: a non-detached exec with pipe IO, as containerd's
// `ctr task exec` without a tty; the exit status comes back as ExitError.
func goRuncExecForeground(t *testing.T, r *runc.Runc, id string) {
	t.Helper()
	ctx := testCtx(t)
	pio, err := runc.NewPipeIO(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer pio.Close()
	outc := make(chan string, 1)
	go func() { b, _ := io.ReadAll(pio.Stdout()); outc <- string(b) }()
	proc := specs.Process{Args: []string{"sh", "-c", "echo fg-out; exit 3"}, Cwd: "/", Env: []string{"PATH=/bin"}}
	err = r.Exec(ctx, id, proc, &runc.ExecOpts{IO: pio})
	var ee *runc.ExitError
	if !errors.As(err, &ee) || ee.Status != 3 {
		t.Errorf("foreground exec: %v, want exit status 3", err)
	}
	pio.Stdin().Close()
	select {
	case out := <-outc:
		if strings.TrimSpace(out) != "fg-out" {
			t.Errorf("foreground exec stdout %q", out)
		}
	case <-time.After(defaultTimeout):
		t.Error("foreground exec stdout never ended")
	}
}

// TestGoRuncDeleteForce: delete of a running container fails, --force
// kills and removes it.
func TestGoRuncDeleteForce(t *testing.T) {
	crunDiffers(t, `crun words errors its own way; containerd matches runc's words`)
	e := newEnv(t)
	r, ctx := e.goRunc(), testCtx(t)
	id := e.id("goruncforce")
	nio, err := runc.NewNullIO()
	if err != nil {
		t.Fatal(err)
	}
	defer nio.Close()
	if _, err := r.Run(ctx, id, e.bundle(id, nil), &runc.CreateOpts{IO: nio, Detach: true}); err != nil {
		t.Fatalf("run -d: %v (log: %s)", err, lastLogError(t, e.logFile))
	}
	c, err := r.State(ctx, id)
	if err != nil || c.Status != "running" {
		t.Fatalf("state: %+v, %v", c, err)
	}
	e.trackPid(c.Pid)
	if err := r.Delete(ctx, id, nil); err == nil {
		t.Fatal("delete of a running container succeeded")
	}
	if err := r.Delete(ctx, id, &runc.DeleteOpts{Force: true}); err != nil {
		t.Fatalf("delete --force: %v", err)
	}
	if !waitFor(5*time.Second, func() bool { return !pidAlive(c.Pid) }) {
		t.Errorf("init %d alive after delete --force", c.Pid)
	}
	if err := r.Delete(ctx, id, nil); err == nil {
		t.Error("delete of a deleted container succeeded")
	} else if msg := lastLogError(t, e.logFile); !strings.Contains(msg, "does not exist") {
		t.Errorf("last log error: %q, want \"does not exist\"", msg)
	}
}

// TestGoRuncErrors: the user-facing error is the last error line of the
// JSON log, for the failures a shim reports.
func TestGoRuncErrors(t *testing.T) {
	crunDiffers(t, `crun words errors its own way; containerd matches runc's words`)
	e := newEnv(t)
	r, ctx := e.goRunc(), testCtx(t)
	id := e.id("goruncerr")
	// A missing executable fails at create, and the log says which.
	if err := r.Create(ctx, id, e.bundle(id, withArgs("/no-such-binary")), &runc.CreateOpts{IO: nullIO(t)}); err == nil {
		t.Fatal("create with a missing executable succeeded")
	}
	if msg := lastLogError(t, e.logFile); !strings.Contains(msg, "no-such-binary") {
		t.Errorf("last log error of create: %q, want it to name the binary", msg)
	}
	e.assertNoTraces(id, id)
	if err := r.Start(ctx, "gocker-test-nosuch-"+randHex(4)); err == nil {
		t.Error("start of an unknown container succeeded")
	} else if msg := lastLogError(t, e.logFile); !strings.Contains(msg, "does not exist") {
		t.Errorf("last log error of start on an unknown container: %q", msg)
	}
	id2 := e.id("goruncerr2")
	if _, err := r.Run(ctx, id2, e.bundle(id2, nil), &runc.CreateOpts{IO: nullIO(t), Detach: true}); err != nil {
		t.Fatalf("run -d: %v", err)
	}
	proc := specs.Process{Args: []string{"/no/such/exe"}, Cwd: "/", Env: []string{"PATH=/bin"}}
	if err := r.Exec(ctx, id2, proc, &runc.ExecOpts{IO: nullIO(t), Detach: true}); err == nil {
		t.Error("exec of a missing executable succeeded")
	} else if msg := lastLogError(t, e.logFile); !strings.Contains(msg, "/no/such/exe") {
		t.Errorf("last log error of exec: %q, want it to name the executable (exec: %v)", msg, err)
	}
	if c, err := r.State(ctx, id2); err != nil || c.Status != "running" {
		t.Errorf("container after a failed exec: %+v, %v", c, err)
	}
}

// TestGoRuncPidfdSocket: runc 1.2's --pidfd-socket gets a pidfd of the
// exec'd process, through which it can be signalled without pid races.
func TestGoRuncPidfdSocket(t *testing.T) {
	gockerOnly(t, "runc 1.1 has no --pidfd-socket")
	e := newEnv(t)
	r, ctx := e.goRunc(), testCtx(t)
	id := e.id("goruncpidfd")
	initSock, err := runc.NewTempPidfdSocket()
	if err != nil {
		t.Fatal(err)
	}
	defer initSock.Close()
	initFd := make(chan *os.File, 1)
	go func() { f, _ := initSock.ReceivePidfd(); initFd <- f }()
	if err := r.Create(ctx, id, e.bundle(id, nil), &runc.CreateOpts{IO: nullIO(t), PidfdSocket: initSock}); err != nil {
		t.Fatalf("create --pidfd-socket: %v", err)
	}
	st := e.wantStatus(id, "created")
	select {
	case f := <-initFd:
		if f == nil {
			t.Fatal("no pidfd of the init received")
		}
		defer f.Close()
		// A pidfd's fdinfo names its process (proc(5), "Pid:").
		info, _ := os.ReadFile("/proc/self/fdinfo/" + strconv.Itoa(int(f.Fd())))
		if !strings.Contains(string(info), "Pid:\t"+strconv.Itoa(st.Pid)+"\n") {
			t.Errorf("init pidfd fdinfo %q, want Pid %d", info, st.Pid)
		}
	case <-time.After(defaultTimeout):
		t.Fatal("no pidfd of the init received")
	}
	if err := r.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	sock, err := runc.NewTempPidfdSocket()
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	pf := filepath.Join(e.dir, "x.pid")
	proc := specs.Process{Args: []string{"sleep", "1000"}, Cwd: "/", Env: []string{"PATH=/bin"}}
	fdc := make(chan *os.File, 1)
	go func() { f, _ := sock.ReceivePidfd(); fdc <- f }()
	if err := r.Exec(ctx, id, proc, &runc.ExecOpts{IO: nullIO(t), Detach: true, PidFile: pf, PidfdSocket: sock}); err != nil {
		t.Fatalf("exec --pidfd-socket: %v (log: %s)", err, lastLogError(t, e.logFile))
	}
	pid := readPid(t, pf)
	e.trackPid(pid)
	var pidfd *os.File
	select {
	case pidfd = <-fdc:
	case <-time.After(defaultTimeout):
		t.Fatal("no pidfd received")
	}
	if pidfd == nil {
		t.Fatal("no pidfd received")
	}
	defer pidfd.Close()
	if err := unix.PidfdSendSignal(int(pidfd.Fd()), unix.SIGKILL, nil, 0); err != nil {
		t.Fatalf("pidfd_send_signal: %v", err)
	}
	if !waitFor(5*time.Second, func() bool { return !pidAlive(pid) }) {
		t.Errorf("process %d survived SIGKILL through its pidfd: the pidfd is of another process", pid)
	}
}

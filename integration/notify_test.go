package integration

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// sdNotifySource is sd_notify(3) in a static binary (busybox has no tool
// that sends to a unix datagram socket).
const sdNotifySource = `package main

import (
	"net"
	"os"
	"time"
)

func main() {
	time.Sleep(300 * time.Millisecond)
	c, err := net.Dial("unixgram", os.Getenv("NOTIFY_SOCKET"))
	if err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		os.Exit(1)
	}
	c.Write([]byte("STATUS=starting"))
	c.Write([]byte("READY=1"))
}
`

// buildSdNotify compiles the helper into dir/bin/sdnotify.
func (e *env) buildSdNotify() string {
	e.t.Helper()
	goBin := filepath.Join(goruntime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goBin); err != nil {
		e.t.Skipf("no Go toolchain to build the sd_notify helper: %v", err)
	}
	src := filepath.Join(e.dir, "sdnotify-src")
	e.writeFile(filepath.Join(src, "main.go"), sdNotifySource, 0o644)
	e.writeFile(filepath.Join(src, "go.mod"), "module sdnotify\n\ngo 1.21\n", 0o644)
	bin := filepath.Join(e.dir, "bin")
	cmd := exec.Command(goBin, "build", "-o", filepath.Join(bin, "sdnotify"), ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod")
	if out, err := cmd.CombinedOutput(); err != nil {
		e.t.Fatalf("build sd_notify helper: %v: %s", err, out)
	}
	if err := os.Chmod(bin, 0o755); err != nil {
		e.t.Fatal(err)
	}
	return bin
}

// notifySetup makes the caller's notify socket and a container that runs
// the sd_notify helper, then sleeps.
func (e *env) notifySetup(name string) (id, bundle, sockPath string, ln *net.UnixConn) {
	e.t.Helper()
	bin := e.buildSdNotify()
	sockPath = filepath.Join(e.dir, "n.sock")
	ln, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sockPath, Net: "unixgram"})
	if err != nil {
		e.t.Fatal(err)
	}
	id = e.id(name)
	bundle = e.bundle(id, chain(
		withArgs("sh", "-c", mntHooks+"/sdnotify && exec sleep 1000"),
		addMount(specs.Mount{Destination: "/run", Type: "tmpfs", Source: "tmpfs", Options: []string{"mode=755"}}),
		addMount(specs.Mount{Destination: mntHooks, Type: "bind", Source: bin, Options: []string{"bind", "ro"}}),
	))
	return id, bundle, sockPath, ln
}

// TestNotifySocket: with NOTIFY_SOCKET set, the container's sd_notify
// READY=1 reaches the caller's socket with MAINPID the init's host pid,
// and run -d returns only once the container is ready (runc semantics).
func TestNotifySocket(t *testing.T) {
	crunDiffers(t, "crun forwards BARRIER=1 to the caller and sends no MAINPID")
	e := newEnv(t)
	id, bundle, sockPath, ln := e.notifySetup("notify")
	defer ln.Close()
	args := []string{"--root", e.root, "--log", e.logFile, "--log-format", "json", "run", "-d", "--bundle", bundle, id}
	cmd := exec.Command(runtimePath, args...)
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+sockPath)
	null, _ := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	defer null.Close()
	// Files, not pipes: the detached container inherits them.
	errPath := filepath.Join(e.dir, "notify-run.err")
	errF, err := os.Create(errPath)
	if err != nil {
		t.Fatal(err)
	}
	defer errF.Close()
	cmd.Stdin, cmd.Stdout, cmd.Stderr = null, null, errF
	if err := cmd.Run(); err != nil {
		b, _ := os.ReadFile(errPath)
		t.Fatalf("run -d with NOTIFY_SOCKET: %v: %s", err, b)
	}
	st := e.wantStatus(id, "running")
	// The messages are already there: run -d waited for READY=1.
	var got []string
	ln.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	buf := make([]byte, 4096)
	for {
		n, err := ln.Read(buf)
		if err != nil {
			break
		}
		got = append(got, strings.Split(strings.TrimSpace(string(buf[:n])), "\n")...)
		ln.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	}
	want := []string{"READY=1", "MAINPID=" + strconv.Itoa(st.Pid)}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("caller's notify socket got %q, want %q", got, want)
	}
}

// TestNotifySocketCreateStart: the same through create + start, where start
// is the one that waits for READY=1 and forwards it (runc semantics).
func TestNotifySocketCreateStart(t *testing.T) {
	crunDiffers(t, "crun binds the notify socket at its host path inside the container, creating that path in the (shared) rootfs")
	e := newEnv(t)
	id, bundle, sockPath, ln := e.notifySetup("notify2")
	defer ln.Close()
	null, _ := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	defer null.Close()
	for _, verb := range [][]string{{"create", "--bundle", bundle, id}, {"start", id}} {
		cmd := exec.Command(runtimePath, append([]string{"--root", e.root, "--log", e.logFile, "--log-format", "json"}, verb...)...)
		cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+sockPath)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = null, null, null
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s with NOTIFY_SOCKET: %v", verb[0], err)
		}
	}
	st := e.wantStatus(id, "running")
	ln.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	buf := make([]byte, 4096)
	n, err := ln.Read(buf)
	if err != nil {
		t.Fatalf("no message on the caller's socket after start returned: %v", err)
	}
	got := strings.TrimSpace(string(buf[:n]))
	want := "READY=1\nMAINPID=" + strconv.Itoa(st.Pid)
	if !isGocker() {
		// runc 1.1's start forwards READY=1 without MAINPID.
		want = "READY=1"
	}
	if got != want {
		t.Errorf("caller's notify socket got %q, want %q", got, want)
	}
}

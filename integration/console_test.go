package integration

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// consoleSocket is the test side of --console-socket: the runtime connects
// and sends the pty master as SCM_RIGHTS (runc docs/terminals.md).
type consoleSocket struct {
	path   string
	ln     *net.UnixListener
	master chan *os.File
	errc   chan error
}

func (e *env) consoleSocket() *consoleSocket {
	e.t.Helper()
	// Keep the path short: sun_path holds 108 bytes.
	p := filepath.Join(e.dir, "c.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: p, Net: "unix"})
	if err != nil {
		e.t.Fatalf("console socket: %v", err)
	}
	cs := &consoleSocket{path: p, ln: ln, master: make(chan *os.File, 1), errc: make(chan error, 1)}
	// The cleanup holds cs, so a master nobody took stays open (and
	// referenced) until the test ends: an unreachable *os.File is closed
	// by its finalizer, and a closed master hangs up the container's
	// terminal, killing a created container's init with SIGHUP.
	e.t.Cleanup(func() {
		ln.Close()
		select {
		case f := <-cs.master:
			f.Close()
		default:
		}
	})
	go cs.accept()
	return cs
}

func (cs *consoleSocket) accept() {
	conn, err := cs.ln.AcceptUnix()
	if err != nil {
		cs.errc <- err
		return
	}
	defer conn.Close()
	f, err := recvFd(conn)
	if err != nil {
		cs.errc <- err
		return
	}
	cs.master <- f
}

func recvFd(conn *net.UnixConn) (*os.File, error) {
	buf := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4*4))
	_, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
	if err != nil {
		return nil, fmt.Errorf("recvmsg: %w", err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		return nil, fmt.Errorf("parse control message: %w", err)
	}
	for _, m := range msgs {
		fds, err := unix.ParseUnixRights(&m)
		if err != nil {
			continue
		}
		for _, extra := range fds[1:] {
			unix.Close(extra)
		}
		if len(fds) > 0 {
			return os.NewFile(uintptr(fds[0]), "pty-master"), nil
		}
	}
	return nil, errors.New("no SCM_RIGHTS fd in the console socket message")
}

// wait returns the received pty master.
func (cs *consoleSocket) wait(t *testing.T) *os.File {
	t.Helper()
	select {
	case f := <-cs.master:
		t.Cleanup(func() { f.Close() })
		return f
	case err := <-cs.errc:
		t.Fatalf("console socket: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("runtime never sent the pty master")
	}
	return nil
}

// readAllPty reads the master until the slave side is closed (EIO).
func readAllPty(t *testing.T, f *os.File, timeout time.Duration) string {
	t.Helper()
	done := make(chan string, 1)
	go func() {
		var b strings.Builder
		buf := make([]byte, 4096)
		for {
			n, err := f.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		done <- b.String()
	}()
	select {
	case s := <-done:
		return s
	case <-time.After(timeout):
		t.Fatalf("pty output did not end within %v", timeout)
	}
	return ""
}

func TestConsoleSocket(t *testing.T) {
	e := newEnv(t)
	id := e.id("console")
	cs := e.consoleSocket()
	bundle := e.bundle(id, chain(
		sh(`echo tty-ok; tty; [ -t 0 ] && [ -t 1 ] && [ -t 2 ] && echo all-ttys; stty size`),
		func(s *specs.Spec) {
			s.Process.Terminal = true
			s.Process.ConsoleSize = &specs.Box{Height: 33, Width: 111}
		}))
	e.ok(e.rt("create", "--bundle", bundle, "--console-socket", cs.path, id))
	master := cs.wait(t)
	e.wantStatus(id, "created")
	e.ok(e.rt("start", id))
	out := strings.ReplaceAll(readAllPty(t, master, 20*time.Second), "\r\n", "\n")
	for _, want := range []string{"tty-ok\n", "/dev/pts/0\n", "all-ttys\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("pty output lacks %q: %q", want, out)
		}
	}
	if !strings.Contains(out, "33 111") {
		t.Errorf("consoleSize 33x111 not applied: %q", out)
	}
	e.waitStatus(id, "stopped", 10*time.Second)
	e.ok(e.rt("delete", id))
}

// TestConsoleSocketRequired: terminal=true without --console-socket is a
// usage error for create (there is nowhere to send the master).
func TestConsoleSocketRequired(t *testing.T) {
	e := newEnv(t)
	id := e.id("noconsole")
	bundle := e.bundle(id, func(s *specs.Spec) { s.Process.Terminal = true })
	e.fails(e.rt("create", "--bundle", bundle, id))
	e.assertNoTraces(id, id)
}

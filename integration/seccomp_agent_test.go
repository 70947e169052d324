package integration

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// A seccomp agent for SCMP_ACT_NOTIFY tests: it listens on
// linux.seccomp.listenerPath, takes the one message the runtime sends
// (container process state JSON + the notify fd as SCM_RIGHTS), then
// receives notifications and answers them (seccomp_unotify(2)).

// seccompNotif and seccompNotifResp are struct seccomp_notif and struct
// seccomp_notif_resp (linux/seccomp.h); x/sys/unix has only the ioctls.
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

type agentMsg struct {
	state specs.ContainerProcessState
	fd    int
	err   error
}

type seccompAgent struct {
	t    *testing.T
	path string
	msgc chan agentMsg
	fd   int // notify fd once received
}

// seccompAgent starts an agent; Cleanup closes the socket and the fd.
func (e *env) seccompAgent() *seccompAgent {
	e.t.Helper()
	p := filepath.Join(e.dir, "agent.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: p, Net: "unix"})
	if err != nil {
		e.t.Fatalf("agent socket: %v", err)
	}
	a := &seccompAgent{t: e.t, path: p, msgc: make(chan agentMsg, 1), fd: -1}
	e.t.Cleanup(func() {
		ln.Close()
		if a.fd >= 0 {
			unix.Close(a.fd)
		}
	})
	go a.accept(ln)
	return a
}

func (a *seccompAgent) accept(ln *net.UnixListener) {
	conn, err := ln.AcceptUnix()
	if err != nil {
		a.msgc <- agentMsg{err: err}
		return
	}
	defer conn.Close()
	buf := make([]byte, 64<<10)
	oob := make([]byte, unix.CmsgSpace(4*4))
	n, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
	if err != nil {
		a.msgc <- agentMsg{err: fmt.Errorf("recvmsg: %w", err)}
		return
	}
	m := agentMsg{fd: -1}
	if scms, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil && len(scms) == 1 {
		if fds, err := unix.ParseUnixRights(&scms[0]); err == nil && len(fds) == 1 {
			m.fd = fds[0]
		}
	}
	if m.fd < 0 {
		m.err = fmt.Errorf("message without exactly one fd (%d bytes of control data)", oobn)
	} else if err := json.Unmarshal(buf[:n], &m.state); err != nil {
		m.err = fmt.Errorf("state JSON: %w: %q", err, buf[:n])
	}
	a.msgc <- m
}

// state waits for the runtime's message and keeps the notify fd.
func (a *seccompAgent) state(timeout time.Duration) specs.ContainerProcessState {
	a.t.Helper()
	select {
	case m := <-a.msgc:
		if m.err != nil {
			a.t.Fatalf("seccomp agent: %v", m.err)
		}
		a.fd = m.fd
		return m.state
	case <-time.After(timeout):
		a.t.Fatalf("seccomp agent: no message from the runtime within %v", timeout)
	}
	return specs.ContainerProcessState{}
}

// next waits for one notification. A notification can vanish between
// poll and receive: ENOENT, "the target's (blocked) system call was
// interrupted by a signal handler" (seccomp_unotify(2)); the Go runtime of
// the init signals its threads. The syscall restarts and notifies again.
func (a *seccompAgent) next(timeout time.Duration) (seccompNotif, error) {
	deadline := time.Now().Add(timeout)
	for {
		n, err := a.recv(deadline, timeout)
		if !errors.Is(err, unix.ENOENT) {
			return n, err
		}
	}
}

func (a *seccompAgent) recv(deadline time.Time, timeout time.Duration) (seccompNotif, error) {
	var n seccompNotif
	pfd := []unix.PollFd{{Fd: int32(a.fd), Events: unix.POLLIN}}
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return n, fmt.Errorf("no seccomp notification within %v", timeout)
		}
		k, err := unix.Poll(pfd, int(left/time.Millisecond)+1)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return n, fmt.Errorf("poll notify fd: %w", err)
		}
		if k == 0 {
			continue
		}
		if pfd[0].Revents&unix.POLLHUP != 0 && pfd[0].Revents&unix.POLLIN == 0 {
			return n, fmt.Errorf("notify fd hung up: every filtered process is gone")
		}
		break
	}
	if err := a.ioctl(unix.SECCOMP_IOCTL_NOTIF_RECV, unsafe.Pointer(&n)); err != nil {
		return n, fmt.Errorf("SECCOMP_IOCTL_NOTIF_RECV: %w", err)
	}
	return n, nil
}

// answer replies to n. A signal to the waiting task (the Go runtime of a
// gocker init sends itself SIGURG) aborts the wait and the restarted
// syscall is notified again with a new id; the old id then gives ENOENT,
// and the reply goes to the new notification of the same task and syscall.
func (a *seccompAgent) answer(n seccompNotif, errno unix.Errno, cont bool) error {
	for {
		err := a.reply(n.ID, errno, cont)
		if err == nil || !errors.Is(err, unix.ENOENT) {
			return err
		}
		again, err := a.next(5 * time.Second)
		if err != nil {
			return fmt.Errorf("notification %d vanished and was not re-sent: %w", n.ID, err)
		}
		if again.Pid != n.Pid || again.Nr != n.Nr {
			return fmt.Errorf("notification %d vanished; next is syscall %d of pid %d", n.ID, again.Nr, again.Pid)
		}
		n = again
	}
}

// reply answers notification id: errno != 0 fails the syscall with it;
// cont lets the kernel run the syscall as if there were no filter.
func (a *seccompAgent) reply(id uint64, errno unix.Errno, cont bool) error {
	r := seccompNotifResp{ID: id}
	if errno != 0 {
		r.Error = -int32(errno)
	}
	if cont {
		r.Flags = unix.SECCOMP_USER_NOTIF_FLAG_CONTINUE
	}
	if err := a.ioctl(unix.SECCOMP_IOCTL_NOTIF_SEND, unsafe.Pointer(&r)); err != nil {
		return fmt.Errorf("SECCOMP_IOCTL_NOTIF_SEND: %w", err)
	}
	return nil
}

func (a *seccompAgent) ioctl(req uintptr, p unsafe.Pointer) error {
	for {
		_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(a.fd), req, uintptr(p))
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return e
		}
		return nil
	}
}

// notifyProfile allows everything but names, which go to the agent.
func notifyProfile(listener, metadata string, names ...string) *specs.LinuxSeccomp {
	return &specs.LinuxSeccomp{
		DefaultAction:    specs.ActAllow,
		ListenerPath:     listener,
		ListenerMetadata: metadata,
		Syscalls:         []specs.LinuxSyscall{{Names: names, Action: specs.ActNotify}},
	}
}

// noCaps gives the process uid 0 and no capability at all, so that its
// credentials are those of a probe run with setpriv (see noCapsProbe).
func noCaps(s *specs.Spec) {
	s.Process.User = specs.User{UID: 0, GID: 0}
	s.Process.Capabilities = &specs.LinuxCapabilities{}
	s.Process.NoNewPrivileges = true
}

// noCapsProbe runs script with /bin/sh as host uid 0 without any
// capability: what a root process of a container without capabilities can
// do to /proc of the host's pid namespace.
func noCapsProbe(script string) *exec.Cmd {
	return exec.Command("setpriv", "--reuid=0", "--regid=0", "--clear-groups", "--inh-caps=-all",
		"--ambient-caps=-all", "--bounding-set=-all", "--", "/bin/sh", "-c", script)
}

func requireSetpriv(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("/usr/bin/setpriv"); err != nil {
		t.Skip("needs setpriv (util-linux)")
	}
}

// Package proto is the sync protocol between gocker (the parent) and the
// container's init (the child). Messages are JSON, one per datagram on a
// SOCK_SEQPACKET socketpair, so there is no framing to get wrong, and file
// descriptors (the pty master, a seccomp listener) ride along as SCM_RIGHTS.
package proto

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/gocker/gocker/runtime/seccomp"
)

// Message types.
const (
	TypeBootstrap = "bootstrap" // parent -> child: everything init needs
	TypeHooks     = "hooks"     // child -> parent: mounts done, run prestart+createRuntime
	TypeHooksDone = "hooks-done"
	TypeConsole   = "console" // child -> parent, carries the pty master fd
	TypeSeccomp   = "seccomp" // child -> parent, carries the seccomp listener fd
	TypeReady     = "ready"   // child -> parent: set up, waiting for start
	TypeAck       = "ack"     // parent -> child: state saved, go wait for start
	TypeError     = "error"   // either way: abort, Msg says why
	// TypeIDMap: child -> parent, make spec mount Index a detached
	// idmapped mount (the init of a user-namespaced container cannot).
	TypeIDMap = "idmap"
	// TypeIDMapFd: parent -> child, carries that mount's fd, or Msg with
	// the reason there is none.
	TypeIDMapFd = "idmap-fd"
)

// Env names for the child. The fd numbers move with --preserve-fds.
const (
	EnvSyncFD = "_GOCKER_SYNCFD"
	EnvFifoFD = "_GOCKER_FIFOFD"
	EnvLogLvl = "_GOCKER_LOGLEVEL"
	// EnvSeccompFD: a socket the parent connected to
	// linux.seccomp.listenerPath; the child sends the notify fd on it.
	EnvSeccompFD = "_GOCKER_SECCOMPFD"
)

// Bootstrap is everything the init needs, sent once after the parent has
// placed the child in its cgroup.
type Bootstrap struct {
	ID           string            `json:"id"`
	Bundle       string            `json:"bundle"`
	Rootfs       string            `json:"rootfs"`
	Spec         *specs.Spec       `json:"spec"`
	NoPivot      bool              `json:"noPivot,omitempty"`
	NoNewKeyring bool              `json:"noNewKeyring,omitempty"`
	CgroupPaths  map[string]string `json:"cgroupPaths,omitempty"`
	CgroupNS     bool              `json:"cgroupNS,omitempty"` // unshare a cgroup ns after joining the cgroup
	TimeNS       bool              `json:"timeNS,omitempty"`   // unshare a time ns and write the offsets
	PreserveFDs  int               `json:"preserveFDs,omitempty"`
	// RuntimeHooks: the parent has prestart or createRuntime hooks, so the
	// init must stop before pivot_root and let it run them.
	RuntimeHooks bool `json:"runtimeHooks,omitempty"`
	// ListenFDs of the preserved fds are socket-activation fds (systemd's
	// LISTEN_FDS): the init sets LISTEN_FDS and LISTEN_PID for them.
	ListenFDs int `json:"listenFDs,omitempty"`
	// Exec: the child is an extra process for `gocker exec`, already in
	// the container's namespaces and cgroup. No rootfs setup, no hooks, no
	// exec fifo: it sets up its console and the process and execve()s.
	Exec bool `json:"exec,omitempty"`
	// Chroot, for exec into a container without its own mount namespace:
	// the init's root, which the exec process must share.
	Chroot string `json:"chroot,omitempty"`
	// State is the OCI state for createContainer and startContainer hooks,
	// with the init's host pid.
	State specs.State `json:"state"`
	// Seccomp is linux.seccomp compiled by the parent; Spec then has no
	// linux.seccomp, so the init neither parses nor compiles the profile.
	Seccomp *seccomp.Wire `json:"seccomp,omitempty"`
}

// Msg is one datagram.
type Msg struct {
	Type      string     `json:"type"`
	Msg       string     `json:"msg,omitempty"`
	Bootstrap *Bootstrap `json:"bootstrap,omitempty"`
	Index     int        `json:"index,omitempty"` // TypeIDMap: index in spec.mounts
}

// Conn is one end of the socketpair.
type Conn struct{ f *os.File }

// NewConn wraps an fd.
func NewConn(f *os.File) *Conn { return &Conn{f: f} }

// Pair makes a connected SOCK_SEQPACKET socketpair: (parent, child).
func Pair() (*Conn, *os.File, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("socketpair: %w", err)
	}
	return &Conn{f: os.NewFile(uintptr(fds[0]), "sync-parent")}, os.NewFile(uintptr(fds[1]), "sync-child"), nil
}

// File returns the underlying file.
func (c *Conn) File() *os.File { return c.f }

// Close closes the socket.
func (c *Conn) Close() error { return c.f.Close() }

// Send writes m, with an optional fd attached (-1 for none).
func (c *Conn) Send(m *Msg, fd int) error {
	data, err := json.Marshal(m)
	if err != nil {
		return err
	}
	var oob []byte
	if fd >= 0 {
		oob = unix.UnixRights(fd)
	}
	if err := unix.Sendmsg(int(c.f.Fd()), data, oob, nil, 0); err != nil {
		return fmt.Errorf("send %s: %w", m.Type, err)
	}
	return nil
}

// maxMsg bounds one datagram; a config with a large seccomp profile is
// tens of KiB.
const maxMsg = 4 << 20

// Recv reads one message and the fd attached to it (-1 if none). A closed
// peer gives io.EOF.
func (c *Conn) Recv() (*Msg, int, error) {
	buf := make([]byte, 64<<10)
	oob := make([]byte, unix.CmsgSpace(4))
	for {
		// MSG_PEEK|MSG_TRUNC tells the real length, so big messages work
		// without a huge buffer on every read.
		n, _, _, _, err := unix.Recvmsg(int(c.f.Fd()), buf, nil, unix.MSG_PEEK|unix.MSG_TRUNC)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, -1, fmt.Errorf("receive: %w", err)
		}
		if n > len(buf) {
			if n > maxMsg {
				return nil, -1, fmt.Errorf("receive: message of %d bytes is too large", n)
			}
			buf = make([]byte, n)
		}
		break
	}
	var n, oobn int
	var err error
	for {
		n, oobn, _, _, err = unix.Recvmsg(int(c.f.Fd()), buf, oob, unix.MSG_CMSG_CLOEXEC)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return nil, -1, fmt.Errorf("receive: %w", err)
	}
	if n == 0 && oobn == 0 {
		return nil, -1, io.EOF
	}
	fd := -1
	if oobn > 0 {
		scms, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err == nil && len(scms) > 0 {
			if fds, err := unix.ParseUnixRights(&scms[0]); err == nil && len(fds) > 0 {
				fd = fds[0]
			}
		}
	}
	var m Msg
	if err := json.Unmarshal(buf[:n], &m); err != nil {
		if fd >= 0 {
			unix.Close(fd)
		}
		return nil, -1, fmt.Errorf("decode sync message: %w", err)
	}
	return &m, fd, nil
}

// Expect receives one message and checks its type. A TypeError message
// becomes a Go error carrying the peer's text.
func (c *Conn) Expect(typ string) (*Msg, int, error) {
	m, fd, err := c.Recv()
	if err != nil {
		return nil, -1, err
	}
	if m.Type == TypeError {
		return nil, -1, &PeerError{Msg: m.Msg}
	}
	if m.Type != typ {
		if fd >= 0 {
			unix.Close(fd)
		}
		return nil, -1, fmt.Errorf("sync: got %q, want %q", m.Type, typ)
	}
	return m, fd, nil
}

// PeerError is an error reported by the other side.
type PeerError struct{ Msg string }

func (e *PeerError) Error() string { return e.Msg }

// IsPeerError reports whether err came from the other side.
func IsPeerError(err error) bool {
	var pe *PeerError
	return errors.As(err, &pe)
}

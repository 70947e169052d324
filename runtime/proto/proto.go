// Package proto is the sync protocol between gocker (the parent) and the
// container's init (the child). Messages are one per datagram on a
// SOCK_SEQPACKET socketpair, so there is no framing to get wrong, in a
// binary encoding of the Go types (wire.go; JSON from the C constructor), and file
// descriptors (the pty master, a seccomp listener) ride along as SCM_RIGHTS.
package proto

import (
	"errors"
	"fmt"
	"io"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/gocker/gocker/runtime/rootfs"
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
	// TypeCgroup: parent -> child after a bootstrap with CgroupLater: the
	// v1 tasks files to write (Index of them), or none.
	TypeCgroup = "cgroup"
)

// Env names for the child. The fd numbers move with --preserve-fds.
const (
	EnvSyncFD = "_GOCKER_SYNCFD"
	EnvFifoFD = "_GOCKER_FIFOFD"
	EnvLogLvl = "_GOCKER_LOGLEVEL"
	// EnvSeccompFD: a socket the parent connected to
	// linux.seccomp.listenerPath; the child sends the notify fd on it.
	EnvSeccompFD = "_GOCKER_SECCOMPFD"
	// EnvBuild is the parent's Build, which the init checks against its
	// own: gocker and gocker-init speak this protocol only with a binary
	// of the same build.
	EnvBuild = "_GOCKER_BUILD"
	// Read by gocker-init's C constructor (runtime/nsenter), before the
	// Go runtime starts: the namespaces to join
	// ("user:/proc/PID/ns/user,mnt:/proc/PID/ns/mnt"), the hex clone
	// flags to unshare after joining, and whether to fork after joining
	// (a joined pid namespace) and report the child's pid.
	EnvNsJoin    = "_GOCKER_NSENTER"
	EnvNsUnshare = "_GOCKER_UNSHARE"
	EnvNsFork    = "_GOCKER_NSENTER_FORK"
)

// Build identifies a build of gocker and gocker-init (the Makefile sets
// it with -X); "" in test binaries, which skip the check.
var Build string

// CheckBuild compares the parent's build, from the environment, with ours.
func CheckBuild(parent string) error {
	if parent != "" && Build != "" && parent != Build {
		return fmt.Errorf("gocker-init is build %q but gocker is %q: install both from the same build", Build, parent)
	}
	return nil
}

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
	// CgroupMounts are the host's v1 hierarchies, for a "cgroup" mount.
	CgroupMounts []rootfs.Hierarchy `json:"cgroupMounts,omitempty"`
	CgroupNS     bool               `json:"cgroupNS,omitempty"` // unshare a cgroup ns after joining the cgroup
	TimeNS       bool               `json:"timeNS,omitempty"`   // unshare a time ns and write the offsets
	PreserveFDs  int                `json:"preserveFDs,omitempty"`
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
	// RootFD: the first fd of the message is the rootfs, opened by the
	// parent (runtime/rootless.go, openRootfsIn).
	RootFD bool `json:"rootFD,omitempty"`
	// CgroupTasks is how many of the message's fds, after the rootfs, are
	// v1 "tasks" files of the container's cgroup, opened by the parent.
	// The init writes "0" to each: that moves only the calling thread,
	// which skips the grace-period wait of a cgroup.procs write
	// (runtime/cgjoin.go).
	CgroupTasks int `json:"cgroupTasks,omitempty"`
	// InCgroup: the init is in its cgroup once it wrote CgroupTasks (it
	// was cloned into the unified one); otherwise the parent moves it and
	// says so by answering the init's hooks request.
	InCgroup bool `json:"inCgroup,omitempty"`
	// CgroupLater: the tasks files come in a TypeCgroup message after
	// this one, once the parent has made the cgroup; the init waits for
	// it before anything that needs the cgroup.
	CgroupLater bool `json:"cgroupLater,omitempty"`
	// SeccompLater: linux.seccomp is compiled while the init sets up its
	// rootfs, and the program comes with the TypeAck message.
	SeccompLater bool `json:"seccompLater,omitempty"`
}

// Msg is one datagram.
type Msg struct {
	Type      string     `json:"type"`
	Msg       string     `json:"msg,omitempty"`
	Bootstrap *Bootstrap `json:"bootstrap,omitempty"`
	Index     int        `json:"index,omitempty"` // TypeIDMap: index in spec.mounts
	// Seccomp: TypeAck after a bootstrap with SeccompLater.
	Seccomp *seccomp.Wire `json:"seccomp,omitempty"`
}

// Conn is one end of the socketpair.
type Conn struct {
	f *os.File
	// buf is RecvFds's buffer, kept between messages: a fresh 64 KiB per
	// message is 16 page faults each time, on the init's start path.
	// Decoding copies out what it keeps.
	buf []byte
}

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
	if fd < 0 {
		return c.SendFds(m)
	}
	return c.SendFds(m, fd)
}

// SendFds writes m with the fds attached, in order (SCM_RIGHTS).
func (c *Conn) SendFds(m *Msg, fds ...int) error {
	data, err := appendWire(nil, m)
	if err != nil {
		return fmt.Errorf("encode %s: %w", m.Type, err)
	}
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	if err := unix.Sendmsg(int(c.f.Fd()), data, oob, nil, 0); err != nil {
		return fmt.Errorf("send %s: %w", m.Type, err)
	}
	return nil
}

// maxMsg bounds one datagram; a config with a large seccomp profile is
// tens of KiB.
const maxMsg = 4 << 20

// maxFds bounds the fds of one message: the rootfs and one v1 tasks file
// per hierarchy.
const maxFds = 32

// Recv reads one message and the fd attached to it (-1 if none). A closed
// peer gives io.EOF.
func (c *Conn) Recv() (*Msg, int, error) {
	m, fds, err := c.RecvFds()
	if err != nil {
		return nil, -1, err
	}
	return m, firstFd(fds), nil
}

// firstFd keeps the first fd and closes the others.
func firstFd(fds []int) int {
	if len(fds) == 0 {
		return -1
	}
	for _, fd := range fds[1:] {
		unix.Close(fd)
	}
	return fds[0]
}

// RecvFds reads one message and all the fds attached to it.
func (c *Conn) RecvFds() (*Msg, []int, error) { return c.recvFds(0) }

// Leftover returns the error the peer sent before it closed, if it is
// still queued. A send to a peer that reported an error and exited fails
// with EPIPE while its words wait unread on our side; and a close with
// our last message unread makes the next send or read fail once with
// ECONNRESET before the queue is read (net/unix/af_unix.c sets sk_err on
// release; net/core/datagram.c checks it first). It never blocks.
func (c *Conn) Leftover() *PeerError {
	for range 8 {
		m, fds, err := c.recvFds(unix.MSG_DONTWAIT)
		if errors.Is(err, unix.ECONNRESET) {
			continue
		}
		if err != nil {
			return nil
		}
		closeFds(fds)
		if m.Type == TypeError {
			return &PeerError{Msg: m.Msg}
		}
	}
	return nil
}

func (c *Conn) recvFds(flags int) (*Msg, []int, error) {
	if c.buf == nil {
		c.buf = make([]byte, 64<<10)
	}
	buf := c.buf
	oob := make([]byte, unix.CmsgSpace(4*maxFds))
	for {
		// MSG_PEEK|MSG_TRUNC tells the real length, so big messages work
		// without a huge buffer on every read.
		n, _, _, _, err := unix.Recvmsg(int(c.f.Fd()), buf, nil, unix.MSG_PEEK|unix.MSG_TRUNC|flags)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("receive: %w", err)
		}
		if n > len(buf) {
			if n > maxMsg {
				return nil, nil, fmt.Errorf("receive: message of %d bytes is too large", n)
			}
			buf = make([]byte, n)
		}
		break
	}
	var n, oobn int
	var err error
	for {
		n, oobn, _, _, err = unix.Recvmsg(int(c.f.Fd()), buf, oob, unix.MSG_CMSG_CLOEXEC|flags)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("receive: %w", err)
	}
	if n == 0 && oobn == 0 {
		return nil, nil, io.EOF
	}
	var fds []int
	if oobn > 0 {
		scms, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err == nil {
			for i := range scms {
				if got, err := unix.ParseUnixRights(&scms[i]); err == nil {
					fds = append(fds, got...)
				}
			}
		}
	}
	var m Msg
	if err := decodeMsg(buf[:n], &m); err != nil {
		closeFds(fds)
		return nil, nil, fmt.Errorf("decode sync message: %w", err)
	}
	return &m, fds, nil
}

// Expect receives one message and checks its type. A TypeError message
// becomes a Go error carrying the peer's text.
func (c *Conn) Expect(typ string) (*Msg, int, error) {
	m, fds, err := c.ExpectFds(typ)
	if err != nil {
		return nil, -1, err
	}
	return m, firstFd(fds), nil
}

// ExpectFds is Expect for a message with several fds.
func (c *Conn) ExpectFds(typ string) (*Msg, []int, error) {
	m, fds, err := c.RecvFds()
	if err != nil {
		return nil, nil, err
	}
	if m.Type == TypeError || m.Type != typ {
		closeFds(fds)
		if m.Type == TypeError {
			return nil, nil, &PeerError{Msg: m.Msg}
		}
		return nil, nil, fmt.Errorf("sync: got %q, want %q", m.Type, typ)
	}
	return m, fds, nil
}

func closeFds(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

// PeerError is an error reported by the other side.
type PeerError struct{ Msg string }

func (e *PeerError) Error() string { return e.Msg }

// IsPeerError reports whether err came from the other side.
func IsPeerError(err error) bool {
	var pe *PeerError
	return errors.As(err, &pe)
}

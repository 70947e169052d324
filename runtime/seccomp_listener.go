package runtime

import (
	"fmt"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/gocker/gocker/runtime/seccomp"
)

// SCMP_ACT_NOTIFY: the runtime-spec wants the notify fd and the container
// process state sent to linux.seccomp.listenerPath over one AF_UNIX
// connection. The fd only exists once the filter is installed, and that is
// as late as possible: in the init, after `start`, right before execve,
// long after create (runc instead installs the filter, and drops
// privileges, before the fifo wait, and sends the fd to its parent during
// create). So the parent connects here, during create (or exec), where the
// host path is reachable and a missing or dead listener fails create, and
// hands the connected socket to the child, which sends the fd and the
// state over it after installing the filter (initproc/notify.go).

// dialSeccompListener connects to the listener when the profile has
// SCMP_ACT_NOTIFY rules, and returns nil otherwise.
func dialSeccompListener(s *specs.Spec) (*os.File, error) {
	if s == nil || s.Linux == nil || !notifies(s.Linux.Seccomp) {
		return nil, nil
	}
	path := s.Linux.Seccomp.ListenerPath
	if err := seccomp.ValidateListener(path); err != nil {
		return nil, err
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("linux.seccomp.listenerPath: %w", err)
	}
	if err := unix.Connect(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("linux.seccomp.listenerPath: connect to %s: %w", path, err)
	}
	return os.NewFile(uintptr(fd), "seccomp-listener"), nil
}

func notifies(s *specs.LinuxSeccomp) bool {
	if s == nil {
		return false
	}
	for _, r := range s.Syscalls {
		if r.Action == specs.ActNotify {
			return true
		}
	}
	return false
}

// specForInit is the spec as sent to the init: without linux.seccomp when
// the parent sends the compiled program instead (proto.Bootstrap.Seccomp).
// The profile is most of a Docker config.json; decoding it again in the
// init and compiling it twice would cost container start about 0.3 ms.
func specForInit(s *specs.Spec, f *seccomp.Filter) *specs.Spec {
	if s.Linux == nil {
		return s
	}
	// The init never reads linux.resources (the parent sets the limits)
	// nor linux.intelRdt; without them its JSON decoder never builds the
	// decoders for their many types, which costs a new process more than
	// the decoding itself (encoding/json caches them per type).
	cp, l := *s, *s.Linux
	l.Resources, l.IntelRdt = nil, nil
	if f != nil {
		l.Seccomp = nil
	}
	cp.Linux = &l
	return &cp
}

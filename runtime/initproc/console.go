package initproc

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/gocker/gocker/runtime/proto"
	"github.com/gocker/gocker/runtime/rootfs"
)

// setupConsole gives the container's init its terminal, when the config
// asks for one: a pty bound to /dev/console.
func setupConsole(conn *proto.Conn, s *specs.Spec) error {
	if s.Process == nil || !s.Process.Terminal {
		return nil
	}
	return newConsole(conn, s.Process, true)
}

// newConsole makes a pty from the container's devpts (/dev/ptmx is the
// container's: we are past pivot_root or the mount namespace join), makes
// the slave our controlling terminal and stdio, and sends the master to the
// parent, which forwards it to --console-socket or proxies it. The init's
// also becomes /dev/console (bindConsole); an exec process's does not.
func newConsole(conn *proto.Conn, ps *specs.Process, bindConsole bool) error {
	master, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open /dev/ptmx: %w", err)
	}
	defer unix.Close(master)
	if err := unix.IoctlSetPointerInt(master, unix.TIOCSPTLCK, 0); err != nil {
		return fmt.Errorf("unlock pty: %w", err)
	}
	n, err := unix.IoctlGetUint32(master, unix.TIOCGPTN)
	if err != nil {
		return fmt.Errorf("get pty number: %w", err)
	}
	slavePath := fmt.Sprintf("/dev/pts/%d", n)
	slave, err := unix.Open(slavePath, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", slavePath, err)
	}
	defer unix.Close(slave)
	if err := unix.Fchown(slave, int(ps.User.UID), int(ps.User.GID)); err != nil {
		return fmt.Errorf("chown %s: %w", slavePath, err)
	}
	if sz := ps.ConsoleSize; sz != nil {
		ws := &unix.Winsize{Row: uint16(sz.Height), Col: uint16(sz.Width)}
		if err := unix.IoctlSetWinsize(master, unix.TIOCSWINSZ, ws); err != nil {
			return fmt.Errorf("set console size: %w", err)
		}
	}
	if bindConsole {
		// Bind the pty we opened, not whatever /dev/pts/N names by the
		// time of the mount (CVE-2025-52565).
		src := slavePath
		if onProcfs("/proc/self/fd") {
			src = fmt.Sprintf("/proc/self/fd/%d", slave)
		}
		if err := rootfs.SetupConsole(src); err != nil {
			return err
		}
	}
	// A new session, so the pty can become our controlling terminal.
	if _, err := unix.Setsid(); err != nil {
		return fmt.Errorf("setsid: %w", err)
	}
	if err := unix.IoctlSetInt(slave, unix.TIOCSCTTY, 0); err != nil {
		return fmt.Errorf("set controlling terminal: %w", err)
	}
	for i := 0; i < 3; i++ {
		if err := unix.Dup3(slave, i, 0); err != nil {
			return fmt.Errorf("dup pty slave to fd %d: %w", i, err)
		}
	}
	return conn.Send(&proto.Msg{Type: proto.TypeConsole, Msg: slavePath}, master)
}

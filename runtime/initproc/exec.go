package initproc

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/gocker/gocker/runtime/proto"
)

// runExec is the child side of `gocker exec`. The parent forked us inside
// the container's pid, net, ipc, uts, cgroup and time namespaces, the C
// constructor joined its user and mount namespaces before Go started, and
// we are in its cgroup. What is left is what runc's setns init does: the
// console, the process attributes, execve. No rootfs work and no hooks:
// the container is already set up, and an exec must never change it.
//
// The sync socket stays open (close-on-exec) across execve, so the parent
// reads EOF when execve succeeded, or our error when anything failed.
func runExec(conn *proto.Conn, b *proto.Bootstrap) error {
	if b.Chroot != "" {
		// The container shares the host mount namespace and its init is
		// chrooted: share its root. setns(2) into a mount namespace has
		// already put us at that namespace's root otherwise.
		if err := unix.Chroot(b.Chroot); err != nil {
			return fmt.Errorf("chroot to the container root: %w", err)
		}
	}
	if err := unix.Chdir("/"); err != nil {
		return fmt.Errorf("chdir /: %w", err)
	}
	if b.Spec.Process.Terminal {
		if err := execConsole(conn, b); err != nil {
			return err
		}
	}
	p, err := prepareProcess(b)
	if err != nil {
		return err
	}
	if err := conn.Send(&proto.Msg{Type: proto.TypeReady}, -1); err != nil {
		return err
	}
	// The ack says the parent wrote --pid-file; without it we must not run.
	if _, _, err := conn.Expect(proto.TypeAck); err != nil {
		return err
	}
	return p.exec()
}

// execConsole gives the exec process a new pty from the container's devpts
// (opened after the mount namespace join, so /dev/ptmx is the container's),
// makes it the controlling terminal and stdio, and sends the master to the
// parent. Unlike the init's console it is not bound to /dev/console.
func execConsole(conn *proto.Conn, b *proto.Bootstrap) error {
	ps := b.Spec.Process
	master, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open /dev/ptmx in the container: %w", err)
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

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
		if err := newConsole(conn, b.Spec.Process, false); err != nil {
			return err
		}
	}
	p, err := prepareProcess(b)
	if err != nil {
		return err
	}
	// The ack says the parent wrote --pid-file; without it we must not run.
	if _, err := readyAck(conn); err != nil {
		return err
	}
	return p.exec()
}

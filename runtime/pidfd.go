package runtime

import (
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

// sendPidfd sends a pidfd of pid over the unix socket at path (runc 1.2's
// --pidfd-socket): the receiver can signal and wait for the process with
// no risk of hitting a recycled pid. The pid is our own unreaped child,
// so pidfd_open(2) cannot race with its reuse.
func sendPidfd(path string, pid int) error {
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return fmt.Errorf("pidfd_open %d: %w", pid, err)
	}
	defer unix.Close(pidfd)
	conn, err := net.Dial("unix", path)
	if err != nil {
		return fmt.Errorf("connect to pidfd socket: %w", err)
	}
	defer conn.Close()
	uc := conn.(*net.UnixConn)
	if _, _, err := uc.WriteMsgUnix([]byte("pidfd"), unix.UnixRights(pidfd), nil); err != nil {
		return fmt.Errorf("send pidfd: %w", err)
	}
	return nil
}

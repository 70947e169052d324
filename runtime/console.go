package runtime

import (
	"fmt"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// dialConsole connects to --console-socket. It is done before anything is
// spawned so that a wrong path fails create cleanly.
func dialConsole(path string) (*os.File, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("console socket: %w", err)
	}
	if fi.Mode()&os.ModeSocket == 0 {
		return nil, fmt.Errorf("console socket %s is not a socket", path)
	}
	conn, err := net.Dial("unix", path)
	if err != nil {
		return nil, fmt.Errorf("connect to console socket: %w", err)
	}
	defer conn.Close()
	f, err := conn.(*net.UnixConn).File()
	if err != nil {
		return nil, fmt.Errorf("console socket: %w", err)
	}
	return f, nil
}

// sendFd sends fd over the socket with SCM_RIGHTS; the payload is the pty
// name, as runc sends it (go-runc and conmon ignore or log it).
func sendFd(sock *os.File, name string, fd int) error {
	if name == "" {
		name = "/dev/ptmx"
	}
	return unix.Sendmsg(int(sock.Fd()), []byte(name), unix.UnixRights(fd), nil, 0)
}

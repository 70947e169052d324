package runtime

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// sd_notify passthrough, as runc does it: when gocker runs with
// NOTIFY_SOCKET set (systemd started it with Type=notify), the container
// gets NOTIFY_SOCKET=/run/notify/notify.sock, a read-only bind of a
// directory in the container's state dir. gocker binds a datagram socket
// there and, once the container says READY=1, tells the caller's socket
// READY=1 and MAINPID=<init pid>, so systemd tracks the container's init.

const (
	notifyDir         = "notify"
	notifySockName    = "notify.sock"
	notifyInContainer = "/run/notify"
)

// notifyDirOf is the state-dir directory bound into the container.
func (c *Container) notifyDirOf() string { return filepath.Join(c.Store.Dir(c.ID), notifyDir) }

// setupNotify prepares the container for NOTIFY_SOCKET: the directory, the
// bind mount and the process's env. Called at create, before the init.
func (c *Container) setupNotify(host string) error {
	if host == "" || c.Spec.Process == nil {
		return nil
	}
	dir := c.notifyDirOf()
	if err := os.Mkdir(dir, 0o755); err != nil {
		return fmt.Errorf("notify socket dir: %w", err)
	}
	c.Spec.Mounts = append(c.Spec.Mounts, specs.Mount{
		Destination: notifyInContainer, Source: dir, Type: "bind",
		Options: []string{"bind", "nosuid", "noexec", "nodev", "ro"},
	})
	c.Spec.Process.Env = append(c.Spec.Process.Env, "NOTIFY_SOCKET="+notifyInContainer+"/"+notifySockName)
	return nil
}

// notifyProxy is the bound socket of a container set up for NOTIFY_SOCKET.
type notifyProxy struct {
	conn *net.UnixConn
	host string
}

// listenNotify binds the container's notify socket, if create set one up
// and NOTIFY_SOCKET names the caller's socket. Call before start, so that
// no message of the starting container is lost.
func (c *Container) listenNotify(host string) (*notifyProxy, error) {
	dir := c.notifyDirOf()
	if host == "" {
		return nil, nil
	}
	if _, err := os.Stat(dir); err != nil {
		return nil, nil // created without NOTIFY_SOCKET
	}
	path := filepath.Join(dir, notifySockName)
	os.Remove(path)
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return nil, fmt.Errorf("bind notify socket: %w", err)
	}
	// Any container uid must be able to send (connect needs write access).
	if err := os.Chmod(path, 0o777); err != nil {
		conn.Close()
		return nil, fmt.Errorf("notify socket: %w", err)
	}
	return &notifyProxy{conn: conn, host: host}, nil
}

// forward waits until the container sends READY=1 or its init exits, then
// passes READY=1 and MAINPID on to the caller's socket.
func (n *notifyProxy) forward(c *Container) error {
	defer n.conn.Close()
	buf := make([]byte, 4096)
	for {
		n.conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		k, err := n.conn.Read(buf)
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				if !c.initAlive() {
					return nil
				}
				continue
			}
			return fmt.Errorf("read notify socket: %w", err)
		}
		for _, line := range bytes.Split(buf[:k], []byte("\n")) {
			if bytes.Equal(line, []byte("READY=1")) {
				return n.sendReady(c.State.InitPid)
			}
		}
	}
}

func (n *notifyProxy) sendReady(pid int) error {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("notify: %w", err)
	}
	defer unix.Close(fd)
	addr := &unix.SockaddrUnix{Name: n.host}
	msg := []byte("READY=1\nMAINPID=" + strconv.Itoa(pid) + "\n")
	if err := unix.Sendto(fd, msg, 0, addr); err != nil {
		return fmt.Errorf("notify %s: %w", n.host, err)
	}
	return nil
}

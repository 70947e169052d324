package seccomp

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// ValidateListener checks at create time that listenerPath names an
// existing unix socket, so a wrong path fails before the container is
// half set up. It does not connect (that would count as the one connection
// the spec allows per container process).
func ValidateListener(listenerPath string) error {
	if listenerPath == "" {
		return fmt.Errorf("%s.listenerPath: empty", field)
	}
	st, err := os.Stat(listenerPath)
	if err != nil {
		return fmt.Errorf("%s.listenerPath: %w", field, err)
	}
	if st.Mode()&os.ModeSocket == 0 {
		return fmt.Errorf("%s.listenerPath: %s is not a unix socket (%s)", field, listenerPath, st.Mode().Type())
	}
	return nil
}

// SendToListener sends the seccomp notify fd to the agent listening on
// listenerPath, as the runtime-spec asks and runc does: one AF_UNIX
// SOCK_STREAM connection, one message whose data is the JSON of st
// (specs.ContainerProcessState) and whose SCM_RIGHTS carries fd, then the
// connection is closed. st.Fds defaults to ["seccompFd"] and st.Version to
// the spec version; the caller fills Pid, Metadata (listenerMetadata) and
// State. Any failure is an error (the spec: "If sending to this socket
// fails, the runtime MUST generate an error").
func SendToListener(listenerPath string, fd int, st *specs.ContainerProcessState) error {
	msg := *st
	if len(msg.Fds) == 0 {
		msg.Fds = []string{specs.SeccompFdName}
	}
	if msg.Version == "" {
		msg.Version = specs.Version
	}
	data, err := json.Marshal(&msg)
	if err != nil {
		return fmt.Errorf("seccomp listener: encoding the process state: %w", err)
	}
	sock, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("seccomp listener: %w", err)
	}
	defer unix.Close(sock)
	if err := unix.Connect(sock, &unix.SockaddrUnix{Name: listenerPath}); err != nil {
		return fmt.Errorf("seccomp listener: connecting to %s: %w", listenerPath, err)
	}
	n, err := unix.SendmsgN(sock, data, unix.UnixRights(fd), nil, 0)
	if err != nil {
		return fmt.Errorf("seccomp listener: sending to %s: %w", listenerPath, err)
	}
	if n != len(data) {
		return fmt.Errorf("seccomp listener: short send to %s (%d of %d bytes)", listenerPath, n, len(data))
	}
	return nil
}

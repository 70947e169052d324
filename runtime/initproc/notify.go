package initproc

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/gocker/gocker/runtime/proto"
	"github.com/gocker/gocker/runtime/seccomp"
)

// listener is the connection to linux.seccomp.listenerPath that the parent
// made for us (runtime/seccomp_listener.go), and the message to send on it
// once the filter gives us a notify fd.
type listener struct {
	sock int
	msg  []byte
}

// prepareListener takes the socket from the environment and renders the
// container process state (runtime-spec config-linux.md, "Seccomp"): the
// agent gets the fd named "seccompFd", the pid, listenerMetadata and the
// container state. Done before the filter, so that after it only sendmsg
// and close remain.
func prepareListener(b *proto.Bootstrap, f *seccomp.Filter) (*listener, error) {
	v := os.Getenv(proto.EnvSeccompFD)
	os.Unsetenv(proto.EnvSeccompFD)
	if !f.Notify() {
		if v != "" {
			if fd, err := strconv.Atoi(v); err == nil {
				unix.Close(fd)
			}
		}
		return nil, nil
	}
	fd, err := strconv.Atoi(v)
	if err != nil {
		return nil, errors.New("seccomp: SCMP_ACT_NOTIFY without a listener connection from the parent")
	}
	// The fd is sent right before execve: create is over (an exec
	// process joins a running container).
	st := b.State
	st.Status = specs.StateCreated
	if b.Exec {
		st.Status = specs.StateRunning
	}
	if st.Pid == 0 {
		st.Pid = os.Getpid() // only as seen in the container's pid namespace
	}
	msg, err := json.Marshal(&specs.ContainerProcessState{
		Version: specs.Version, Fds: []string{specs.SeccompFdName},
		Pid: st.Pid, Metadata: f.ListenerMetadata, State: st,
	})
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("seccomp listener: encode state: %w", err)
	}
	return &listener{sock: fd, msg: msg}, nil
}

// send passes the notify fd to the agent and closes both fds. It runs
// under the new filter: the profile must not notify sendmsg or close, or
// we wait for an agent that does not have the fd yet (runc has the same
// rule).
func (l *listener) send(notifyFd int) error {
	defer unix.Close(l.sock)
	defer unix.Close(notifyFd)
	n, err := unix.SendmsgN(l.sock, l.msg, unix.UnixRights(notifyFd), nil, 0)
	if err != nil {
		return fmt.Errorf("seccomp listener: send notify fd: %w", err)
	}
	if n != len(l.msg) {
		return fmt.Errorf("seccomp listener: short send (%d of %d bytes)", n, len(l.msg))
	}
	return nil
}

package runtime

import (
	"errors"
	"fmt"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// ErrNotRunning carries the text containerd matches on.
var ErrNotRunning = errors.New("container not running")

// Kill sends sig to the container's init, or with all to every process in
// its cgroup.
func Kill(o Options, id string, sig unix.Signal, all bool) error {
	c, err := LoadBrief(o, id)
	if err != nil {
		return err
	}
	lock, err := c.Store.Lock(id)
	if err != nil {
		return err
	}
	defer lock.Release()
	st := c.Status()
	switch st {
	case specs.StateStopped, specs.StateCreating:
		return ErrNotRunning
	}
	if all {
		err = c.killAll(sig)
	} else {
		err = c.signalInit(sig)
	}
	if err == nil && sig == unix.SIGKILL {
		c.thawForKill(st == StatusPaused)
	}
	return err
}

// signalInit signals through a pidfd checked against the stored start time,
// so a recycled pid can never receive our signal.
func (c *Container) signalInit(sig unix.Signal) error {
	pidfd, err := unix.PidfdOpen(c.State.InitPid, 0)
	if err != nil {
		if err == unix.ESRCH {
			return ErrNotRunning
		}
		return fmt.Errorf("pidfd_open %d: %w", c.State.InitPid, err)
	}
	defer unix.Close(pidfd)
	if !c.initAlive() {
		return ErrNotRunning
	}
	if err := unix.PidfdSendSignal(pidfd, sig, nil, 0); err != nil {
		if err == unix.ESRCH {
			return ErrNotRunning
		}
		return fmt.Errorf("kill container init: %w", err)
	}
	return nil
}

func (c *Container) killAll(sig unix.Signal) error {
	m := c.cgroup()
	if m == nil {
		return c.signalInit(sig)
	}
	pids, err := m.Pids()
	if err != nil {
		return fmt.Errorf("list container processes: %w", err)
	}
	for _, pid := range pids {
		if err := unix.Kill(pid, sig); err != nil && err != unix.ESRCH {
			return fmt.Errorf("kill %d: %w", pid, err)
		}
	}
	return nil
}

// waitInitGone waits until the init has exited (a zombie counts: it is
// someone else's to reap), up to timeout. pidfds become readable when the
// process exits, reaped or not.
func (c *Container) waitInitGone(timeout time.Duration) error {
	pidfd, err := unix.PidfdOpen(c.State.InitPid, 0)
	if err != nil {
		return nil // already gone
	}
	defer unix.Close(pidfd)
	if !c.initAlive() {
		return nil
	}
	deadline := time.Now().Add(timeout)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return fmt.Errorf("container init %d did not exit within %v", c.State.InitPid, timeout)
		}
		fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, int(left/time.Millisecond)+1)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("wait for init: %w", err)
		}
		if n > 0 {
			return nil
		}
	}
}

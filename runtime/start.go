package runtime

import (
	"errors"
	"fmt"
	"os"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/gocker/gocker/hooks"
	"github.com/gocker/gocker/runtime/state"
)

// Start runs the OCI start operation: it releases the init blocked on the
// exec fifo, then runs the poststart hooks.
//
// notifySocket is the caller's NOTIFY_SOCKET: when the container was created
// with one, start waits (after releasing the lock) until the container says
// READY=1 or its init exits, and passes it on, as runc does.
func Start(o Options, id, notifySocket string) error {
	c, err := LoadBrief(o, id)
	if err != nil {
		return err
	}
	lock, err := c.Store.Lock(id)
	if err != nil {
		return err
	}
	np, err := c.listenNotify(notifySocket)
	if err != nil {
		lock.Release()
		return err
	}
	err = c.start()
	lock.Release()
	if np == nil {
		return err
	}
	if err != nil {
		np.conn.Close()
		return err
	}
	return np.forward(c)
}

func (c *Container) start() error {
	switch st := c.Status(); st {
	case specs.StateCreated:
	case specs.StateStopped:
		return fmt.Errorf("cannot start a container that has stopped")
	default:
		return fmt.Errorf("cannot start an already %s container", st)
	}
	if c.Spec == nil || c.Spec.Process == nil {
		return errors.New("cannot start a container with no process (config.json has no \"process\")")
	}
	if err := c.releaseInit(); err != nil {
		return err
	}
	// runtime-spec: a poststart failure is logged, the lifecycle goes on.
	if err := hooks.RunAll(c.Spec.Hooks, hooks.Poststart, c.specState(specs.StateRunning)); err != nil {
		logrus.Warn(err)
	}
	return nil
}

// releaseInit opens the fifo for reading, which unblocks the init's open
// for writing, reads the byte it writes, then waits for end-of-file: the
// init's write end is close-on-exec, so EOF means the user program has been
// executed (or the init died). A non-blocking open never hangs, and the
// liveness check between polls catches an init that died before opening.
func (c *Container) releaseInit() error {
	path := c.Store.Path(c.ID, state.FifoFile)
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open exec fifo: %w", err)
	}
	defer unix.Close(fd)
	buf := make([]byte, 1)
	read := func() (int, error) { return unix.Read(fd, buf) }
	poll := func(d time.Duration) {
		unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, int(d/time.Millisecond))
	}
	if err := awaitExec(read, c.initAlive, poll); err != nil {
		return err
	}
	return c.removeFifo(path)
}

// awaitExec reads the exec fifo (read: one non-blocking read) until the
// init's byte and then end-of-file have come; poll waits up to d for
// input; alive tells whether the init is still there.
func awaitExec(read func() (int, error), alive func() bool, poll func(d time.Duration)) error {
	got := false
	for wait := time.Millisecond; ; {
		n, err := read()
		switch {
		case n == 1:
			got = true
			continue
		case n == 0 && err == nil && got:
			// EOF after the byte: the init has exec'd.
			return nil
		case err != nil && err != unix.EAGAIN && err != unix.EINTR:
			return fmt.Errorf("read exec fifo: %w", err)
		}
		// n == 0 before the byte: no writer has opened yet. After the byte
		// EOF must come (exec or death both close the write end), and a
		// program that already ran and exited is not an error.
		if !got && !alive() {
			// The init may have opened, written and exec'd a short
			// program that exited, all since our read: then the byte is
			// waiting (seen under load: /bin/true, 4 runs at once).
			if n, _ := read(); n == 1 {
				got = true
				continue
			}
			return errors.New("container init exited before start")
		}
		poll(wait)
		if wait < 100*time.Millisecond {
			wait *= 2
		}
	}
}

// removeFifo makes the derived status "running".
func (c *Container) removeFifo(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove exec fifo: %w", err)
	}
	return nil
}

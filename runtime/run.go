package runtime

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/containerd/console"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// RunOpts are run's flags beyond create's.
type RunOpts struct {
	Detach      bool
	Keep        bool
	NoSubreaper bool
}

// Run is create + start, and in the foreground also wait + delete. It
// returns the container's exit code: the program's status, or 128+N when
// signal N killed it, as a shell reports it.
func Run(o Options, co CreateOpts, ro RunOpts) (int, error) {
	co.Foreground = !ro.Detach
	if !ro.Detach && !ro.NoSubreaper {
		// Orphans of a container without its own pid namespace come to us.
		unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
	}
	var sigs chan os.Signal
	subscribed := func() {}
	if !ro.Detach {
		// Take signals from now on, so none is lost between start and wait.
		// They stay taken when Run returns (see notifyAll).
		sigs = make(chan os.Signal, 64)
		subscribed = notifyAll(sigs)
	}
	c, init, err := Create(o, co)
	subscribed()
	if err != nil {
		return 0, err
	}
	np, err := c.listenNotify(co.NotifySocket)
	if err == nil {
		err = startLocked(c)
	}
	if err != nil {
		c.forceDestroy()
		if init.Console != nil {
			init.Console.Close()
		}
		return 0, err
	}
	if ro.Detach {
		// As runc run -d: return once the container is ready, so that
		// systemd's Type=notify unit is started when we exit.
		if np != nil {
			return 0, np.forward(c)
		}
		return 0, nil
	}
	if np != nil {
		go np.forward(c)
	}
	code := c.waitForeground(init, sigs)
	if !ro.Keep {
		if err := c.delete(true); err != nil {
			return code, fmt.Errorf("delete after run: %w", err)
		}
	}
	return code, nil
}

// notifyAll subscribes sigs to every signal, in the background, and
// returns a function that waits until it is done. Notify enables the
// signals one at a time, each with a round trip to the Go runtime's signal
// mask thread (runtime.sigenable, ensureSigM): 1.3 ms for all of them on
// this 2-core host, which now overlaps with create. A signal that comes
// during create is queued and forwarded to the container once it runs,
// instead of killing gocker half-way and leaving the container behind.
//
// Nothing undoes it: the caller is the CLI, which exits once Run or Exec
// returns, and signal.Stop disables the signals one round trip at a time
// too (1.15 ms [0.76..1.51] of `gocker run`, 300 paired runs). A signal in
// that last moment is dropped, and gocker still exits with the
// container's code instead of dying of it after the delete.
func notifyAll(sigs chan os.Signal) (wait func()) {
	done := make(chan struct{})
	go func() {
		signal.Notify(sigs)
		close(done)
	}()
	return func() { <-done }
}

func startLocked(c *Container) error {
	lock, err := c.Store.Lock(c.ID)
	if err != nil {
		return err
	}
	defer lock.Release()
	return c.start()
}

func (c *Container) forceDestroy() {
	lock, err := c.Store.Lock(c.ID)
	if err != nil {
		return
	}
	defer lock.Release()
	c.stopInit()
	if err := c.destroy(); err != nil {
		logrus.Warnf("cleanup: %v", err)
	}
}

// waitForeground forwards signals to the init, proxies a terminal, and
// waits for the init to exit.
func (c *Container) waitForeground(init *Init, sigs chan os.Signal) int {
	return waitProcess(init.Cmd, init.Console, sigs)
}

// waitProcess forwards signals to cmd's process (the init for run, the
// extra process for exec), proxies its terminal if pty is set, waits for
// it and returns its exit code: the status, or 128+N for signal N.
func waitProcess(cmd *exec.Cmd, pty *os.File, sigs chan os.Signal) int {
	var copied sync.WaitGroup
	if pty != nil {
		restore := proxyConsole(pty, &copied)
		defer restore()
	}
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		for {
			select {
			case s := <-sigs:
				forward(s, cmd.Process, pty)
			case <-done:
				return
			}
		}
	}()
	cmd.Wait()
	close(done)
	// The forwarder may be in the middle of a resize: the pty must
	// outlive it (the race detector caught the close racing the ioctl).
	<-stopped
	if pty != nil {
		waitTimeout(&copied, time.Second)
		pty.Close()
	}
	ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

// forward passes s on to p. os.Process signals through its pidfd, so a
// signal that comes after Wait has reaped p fails instead of reaching
// whatever process has its pid by then.
func forward(s os.Signal, p *os.Process, pty *os.File) {
	sig, ok := s.(syscall.Signal)
	if !ok {
		return
	}
	switch sig {
	case unix.SIGCHLD, unix.SIGURG, unix.SIGPIPE:
		return // ours, or the Go runtime's preemption signal
	case unix.SIGWINCH:
		if pty != nil {
			resizeFromStdin(pty)
		}
		return
	}
	p.Signal(sig)
}

// resizeFromStdin copies the caller's terminal size to the pty.
func resizeFromStdin(pty *os.File) {
	if cur, err := console.ConsoleFromFile(os.Stdin); err == nil {
		if sz, err := cur.Size(); err == nil {
			unix.IoctlSetWinsize(int(pty.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: sz.Height, Col: sz.Width})
		}
	}
}

// proxyConsole copies stdin to the pty and the pty to stdout, with the
// caller's terminal (if stdin is one) in raw mode until restore.
func proxyConsole(master *os.File, copied *sync.WaitGroup) (restore func()) {
	restore = func() {}
	if cur, err := console.ConsoleFromFile(os.Stdin); err == nil {
		if sz, err := cur.Size(); err == nil {
			unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: sz.Height, Col: sz.Width})
		}
		if err := cur.SetRaw(); err == nil {
			restore = func() { cur.Reset() }
		}
	}
	go io.Copy(master, os.Stdin)
	copied.Add(1)
	go func() {
		defer copied.Done()
		io.Copy(os.Stdout, master) // ends with EIO when the last slave fd closes
	}()
	return restore
}

func waitTimeout(wg *sync.WaitGroup, d time.Duration) {
	ch := make(chan struct{})
	go func() { wg.Wait(); close(ch) }()
	select {
	case <-ch:
	case <-time.After(d):
	}
}

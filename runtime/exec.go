package runtime

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/gocker/gocker/runtime/proto"
)

// ExecOpts are exec's flags beyond the process itself.
type ExecOpts struct {
	Process       *specs.Process // built by (*Container).ExecProcess
	ConsoleSocket string
	Detach        bool
	PidFile       string
	PidfdSocket   string // receives a pidfd of the process (runc 1.2)
	PreserveFDs   int
	IgnorePaused  bool
	Cgroups       []string // --cgroup [<controller>:]<path>, below the container's cgroup
}

// Exec runs an extra process in the running container c. In the
// foreground it proxies signals (and the terminal), waits, and returns the
// process's exit code (128+N for signal N). Detached it returns 0 once
// the process has execve()d. Whatever fails, the container is untouched.
func (c *Container) Exec(eo ExecOpts) (int, error) {
	if err := checkTerminal(eo.Process.Terminal, eo.Detach, eo.ConsoleSocket); err != nil {
		return 0, err
	}
	sub, err := parseSubCgroups(eo.Cgroups)
	if err != nil {
		return 0, err
	}
	var sigs chan os.Signal
	subscribed := func() {}
	if !eo.Detach {
		// From now on, so that no signal meant for the process is lost.
		sigs = make(chan os.Signal, 64)
		subscribed = notifyAll(sigs) // never stopped: see notifyAll
	}
	p, err := c.startExec(&eo, sub)
	subscribed()
	if err != nil {
		return 0, err
	}
	if eo.Detach {
		return 0, nil
	}
	return waitProcess(p.Cmd, p.Console, sigs), nil
}

// checkTerminal applies runc's rules for --tty and --console-socket.
func checkTerminal(tty, detach bool, consoleSocket string) error {
	if detach && tty && consoleSocket == "" {
		return errors.New("cannot allocate tty if gocker will detach without setting console socket")
	}
	if (!detach || !tty) && consoleSocket != "" {
		return errors.New("cannot use console socket if gocker will not detach or allocate tty")
	}
	return nil
}

// parseSubCgroups reads --cgroup values: "path" for every controller, or
// "ctrl[,ctrl]:path" for some (v1).
func parseSubCgroups(list []string) (map[string]string, error) {
	if len(list) == 0 {
		return nil, nil
	}
	sub := map[string]string{}
	for _, v := range list {
		ctrls, path, ok := strings.Cut(v, ":")
		if !ok {
			ctrls, path = "", v
		}
		if path == "" {
			return nil, fmt.Errorf("--cgroup %q: empty path", v)
		}
		for _, c := range strings.Split(ctrls, ",") {
			if _, dup := sub[c]; dup {
				return nil, fmt.Errorf("--cgroup %q: controller %q given twice", v, c)
			}
			sub[c] = path
		}
	}
	return sub, nil
}

// execution is one exec being set up; cleanup undoes it unless done.
type execution struct {
	c       *Container
	eo      *ExecOpts
	cmd     *exec.Cmd
	conn    *proto.Conn
	console *os.File
	pidFile string
	done    bool
	// pid is the exec'd process: cmd's, or with plan.forkPid the child
	// the constructor forked into the joined pid namespace.
	pid int
}

func (c *Container) startExec(eo *ExecOpts, sub map[string]string) (*Init, error) {
	x := &execution{c: c, eo: eo}
	defer x.cleanup()
	if err := x.spawnLocked(sub); err != nil {
		return nil, err
	}
	// Not under the lock: in a paused container (--ignore-paused) the
	// child is frozen until `resume`, which needs the lock.
	if err := x.converse(); err != nil {
		return nil, err
	}
	x.done = true
	return &Init{Cmd: x.cmd, Console: x.console}, nil
}

// spawnLocked checks the container and starts the child in it while
// holding the container's lock, so that no delete can come in between.
func (x *execution) spawnLocked(sub map[string]string) error {
	lock, err := x.c.Store.Lock(x.c.ID)
	if err != nil {
		return err
	}
	defer lock.Release()
	if err := x.c.checkExecStatus(x.eo.IgnorePaused); err != nil {
		return err
	}
	if err := checkExecFiles(x.eo); err != nil {
		return err
	}
	return x.spawn(sub)
}

func (c *Container) checkExecStatus(ignorePaused bool) error {
	switch st := c.Status(); st {
	case specs.StateStopped:
		return fmt.Errorf("cannot exec in a stopped container: %w", ErrNotRunning)
	case specs.StateCreating:
		return fmt.Errorf("cannot exec in a container that is being created: %w", ErrNotRunning)
	case StatusPaused:
		if !ignorePaused {
			return errors.New("cannot exec in a paused container (use --ignore-paused to override)")
		}
	}
	if c.Spec == nil {
		return errors.New("container config snapshot is missing")
	}
	return nil
}

// checkExecFiles catches bad paths before anything runs, so that an exec
// that cannot finish never starts a process.
func checkExecFiles(eo *ExecOpts) error {
	if eo.PidFile != "" {
		abs, err := filepath.Abs(eo.PidFile)
		if err != nil {
			return err
		}
		if fi, err := os.Stat(filepath.Dir(abs)); err != nil || !fi.IsDir() {
			return fmt.Errorf("pid file %s: directory %s does not exist", eo.PidFile, filepath.Dir(abs))
		}
		eo.PidFile = abs
	}
	for i := 0; i < eo.PreserveFDs; i++ {
		if _, err := unix.FcntlInt(uintptr(3+i), unix.F_GETFD, 0); err != nil {
			return fmt.Errorf("--preserve-fds %d: fd %d is not open", eo.PreserveFDs, 3+i)
		}
	}
	for _, s := range []struct{ flag, path string }{{"console socket", eo.ConsoleSocket}, {"pidfd socket", eo.PidfdSocket}} {
		if s.path == "" {
			continue
		}
		fi, err := os.Stat(s.path)
		if err != nil {
			return fmt.Errorf("%s: %w", s.flag, err)
		}
		if fi.Mode()&os.ModeSocket == 0 {
			return fmt.Errorf("%s %s is not a socket", s.flag, s.path)
		}
	}
	return nil
}

// spawn starts `gocker init` in exec mode inside the container's
// namespaces and cgroup, and sends it the bootstrap.
func (x *execution) spawn(sub map[string]string) error {
	c := x.c
	plan, chroot, err := c.execPlan()
	if err != nil {
		return err
	}
	join, err := c.execCgroupJoin(sub)
	if err != nil {
		return err
	}
	defer join.Close()
	conn, childSync, err := proto.Pair()
	if err != nil {
		return err
	}
	x.conn = conn
	a := &spawnArgs{
		spec: c.Spec, plan: plan, childSync: childSync, preserve: x.eo.PreserveFDs, cgroup: join.unified,
		stdio: [3]*os.File{os.Stdin, os.Stdout, os.Stderr}, logLevel: logrus.GetLevel().String(),
		scratch: c.Store.Dir(c.ID), // overlay-protected binary, not a memfd copy
	}
	x.cmd, err = spawn(a)
	if err != nil && a.cgroup != nil {
		// clone3 or CLONE_INTO_CGROUP unavailable (kernel < 5.7): fork,
		// then move the child with cgroup.procs like v1.
		logrus.Debugf("exec: CLONE_INTO_CGROUP failed (%v), joining the cgroup after fork", err)
		a.cgroup, join.parent = nil, join.parent || join.unified != nil
		x.cmd, err = spawn(a)
	}
	childSync.Close()
	if err != nil {
		return fmt.Errorf("start exec process: %w", err)
	}
	x.pid = x.cmd.Process.Pid
	if plan.forkPid {
		m, _, err := conn.Expect("pid")
		if err != nil {
			return x.childError(err)
		}
		if x.pid, err = strconv.Atoi(m.Msg); err != nil {
			return fmt.Errorf("exec: bad pid %q from the constructor", m.Msg)
		}
	}
	if join.parent {
		if err := c.cgroup().AddPid(x.pid, sub); err != nil {
			return err
		}
	}
	s := *c.Spec
	s.Process = x.eo.Process
	b := &proto.Bootstrap{
		ID: c.ID, Rootfs: c.State.Rootfs, Spec: &s, Exec: true, Chroot: chroot,
		PreserveFDs: x.eo.PreserveFDs,
		// The container's state (host pid of its init), for a seccomp
		// listener, as at create.
		State: *c.specState(specs.StateRunning),
	}
	if !join.parent {
		b.CgroupTasks = len(join.tasks)
	}
	if err := conn.SendFds(&proto.Msg{Type: proto.TypeBootstrap, Bootstrap: b}, join.sentFds()...); err != nil {
		return x.childError(err)
	}
	return nil
}

// converse serves the child until its execve: the console, then "ready",
// then EOF (the socket is close-on-exec) or an error.
func (x *execution) converse() error {
	var sock *os.File
	if x.eo.ConsoleSocket != "" {
		var err error
		if sock, err = dialConsole(x.eo.ConsoleSocket); err != nil {
			return err
		}
		defer sock.Close()
	}
	acked := false
	for {
		m, fd, err := x.conn.Recv()
		if err == io.EOF && acked {
			return nil // execve succeeded
		}
		if err != nil {
			return x.childError(err)
		}
		switch m.Type {
		case proto.TypeError:
			return &proto.PeerError{Msg: m.Msg}
		case proto.TypeConsole:
			if err := x.takeConsole(sock, m.Msg, fd); err != nil {
				return err
			}
		case proto.TypeReady:
			if err := x.ready(); err != nil {
				return err
			}
			if err := x.conn.Send(&proto.Msg{Type: proto.TypeAck}, -1); err != nil {
				return x.childError(err)
			}
			acked = true
		default:
			if fd >= 0 {
				unix.Close(fd)
			}
			return fmt.Errorf("sync: unexpected message %q from exec process", m.Type)
		}
	}
}

func (x *execution) takeConsole(sock *os.File, name string, fd int) error {
	master := os.NewFile(uintptr(fd), "pty-master")
	if sock == nil {
		// Sized now, before the process runs, not when the proxy starts.
		resizeFromStdin(master)
		x.console = master
		return nil
	}
	defer master.Close()
	if err := sendFd(sock, name, fd); err != nil {
		return fmt.Errorf("send pty master to console socket: %w", err)
	}
	return nil
}

// ready runs once the child has everything resolved and waits for our
// word to execve: the pid file and the pidfd go out now.
func (x *execution) ready() error {
	pid := x.pid
	if x.eo.PidFile != "" {
		if err := writePidFile(x.eo.PidFile, pid); err != nil {
			return err
		}
		x.pidFile = x.eo.PidFile
	}
	if x.eo.PidfdSocket != "" {
		if err := sendPidfd(x.eo.PidfdSocket, pid); err != nil {
			return err
		}
	}
	return nil
}

// childError explains a sync failure by how the child ended.
func (x *execution) childError(err error) error {
	if err == io.EOF || errors.Is(err, unix.ECONNRESET) || errors.Is(err, unix.EPIPE) {
		if x.conn != nil {
			if pe := x.conn.Leftover(); pe != nil { // see creation.initError
				return pe
			}
		}
		x.kill()
		if werr := x.cmd.Wait(); werr != nil {
			return fmt.Errorf("exec process exited before it ran: %v", werr)
		}
		return errors.New("exec process exited before it ran")
	}
	return fmt.Errorf("exec process: %w", err)
}

// kill SIGKILLs the exec process. With forkPid it is the reaper's child,
// and the reaper cannot forward SIGKILL, so the child is killed first.
func (x *execution) kill() {
	if x.pid > 0 && x.pid != x.cmd.Process.Pid {
		unix.Kill(x.pid, unix.SIGKILL)
	}
	x.cmd.Process.Kill()
}

// cleanup kills a child that did not make it to execve, and removes the
// pid file written for it. The container itself is never touched.
func (x *execution) cleanup() {
	if x.conn != nil {
		x.conn.Close()
	}
	if x.done {
		return
	}
	if x.cmd != nil && x.cmd.Process != nil {
		x.kill()
		x.cmd.Wait()
	}
	if x.console != nil {
		x.console.Close()
	}
	if x.pidFile != "" {
		os.Remove(x.pidFile)
	}
}

// execPlan joins every namespace the init has that we do not share. The
// init's time namespace is its time_for_children: a created container's
// init enters the new one only at its execve.
func (c *Container) execPlan() (*nsPlan, string, error) {
	pid := c.State.InitPid
	p := &nsPlan{}
	ns := func(name string) string { return fmt.Sprintf("/proc/%d/ns/%s", pid, name) }
	for _, t := range []struct {
		name string
		flag uintptr
	}{{"pid", unix.CLONE_NEWPID}, {"net", unix.CLONE_NEWNET}, {"ipc", unix.CLONE_NEWIPC},
		{"uts", unix.CLONE_NEWUTS}, {"cgroup", unix.CLONE_NEWCGROUP}} {
		other, err := otherNS(ns(t.name), t.name)
		if err != nil {
			return nil, "", err
		}
		if other {
			p.setns = append(p.setns, ns(t.name))
			p.setnsT = append(p.setnsT, t.flag)
		}
	}
	var paths [3]string
	for i, name := range []string{"time_for_children", "user", "mnt"} {
		self := name
		if name == "time_for_children" {
			self = "time"
		}
		other, err := otherNS(ns(name), self)
		if err != nil {
			return nil, "", err
		}
		if other {
			paths[i] = ns(name)
		}
	}
	p.cEnter = cEnterList(paths[0], paths[1], paths[2])
	if paths[1] != "" && os.Geteuid() != 0 {
		rootlessJoins(p, paths)
	}
	chroot := ""
	if paths[2] == "" {
		chroot = fmt.Sprintf("/proc/%d/root", pid)
	}
	return p, chroot, nil
}

// rootlessJoins moves every join into the C constructor, user namespace
// first: an unprivileged caller has CAP_SYS_ADMIN over the container's
// other namespaces only from inside its user namespace (setns(2)), so the
// parent's spawning thread cannot join them. A joined pid namespace then
// needs a fork, which the constructor does (forkPid).
func rootlessJoins(p *nsPlan, paths [3]string) {
	list := []string{"user:" + paths[1]}
	if paths[2] != "" {
		list = append(list, "mnt:"+paths[2])
	}
	for i, path := range p.setns {
		list = append(list, nsName(p.setnsT[i])+":"+path)
		if p.setnsT[i] == unix.CLONE_NEWPID {
			p.forkPid = true
		}
	}
	if paths[0] != "" {
		list = append(list, "time:"+paths[0])
	}
	p.cEnter = strings.Join(list, ",")
	p.setns, p.setnsT = nil, nil
}

func nsName(flag uintptr) string {
	switch flag {
	case unix.CLONE_NEWPID:
		return "pid"
	case unix.CLONE_NEWNET:
		return "net"
	case unix.CLONE_NEWIPC:
		return "ipc"
	case unix.CLONE_NEWUTS:
		return "uts"
	case unix.CLONE_NEWCGROUP:
		return "cgroup"
	}
	return "?"
}

// otherNS reports whether the namespace file differs from ours. A kernel
// without that namespace type has neither file.
func otherNS(path, self string) (bool, error) {
	var a, b unix.Stat_t
	if err := unix.Stat("/proc/self/ns/"+self, &b); err != nil {
		return false, nil
	}
	if err := unix.Stat(path, &a); err != nil {
		return false, fmt.Errorf("container init namespace %s: %w", path, err)
	}
	return a.Ino != b.Ino || a.Dev != b.Dev, nil
}

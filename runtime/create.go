package runtime

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/gocker/gocker/hooks"
	"github.com/gocker/gocker/runtime/cgroups"
	"github.com/gocker/gocker/runtime/proto"
	"github.com/gocker/gocker/runtime/rootfs"
	"github.com/gocker/gocker/runtime/seccomp"
	"github.com/gocker/gocker/runtime/state"
	gspec "github.com/gocker/gocker/spec"
)

// CreateOpts are the create flags.
type CreateOpts struct {
	ID            string
	Bundle        string
	PidFile       string
	ConsoleSocket string
	NoPivot       bool
	NoNewKeyring  bool
	PreserveFDs   int
	// ListenFDs are systemd socket-activation fds (LISTEN_FDS), passed as
	// fds 3.. before the --preserve-fds ones, as runc does.
	ListenFDs int
	// NotifySocket is the caller's NOTIFY_SOCKET (sd_notify passthrough).
	NotifySocket string
	// PidfdSocket receives a pidfd of the init (runc 1.2 --pidfd-socket).
	PidfdSocket string
	// Foreground keeps the pty master (for run's stdio proxy) instead of
	// requiring a console socket.
	Foreground bool
}

// Init is the init process of a container this process created; only
// `run` in the foreground uses it, to wait and to proxy a terminal.
type Init struct {
	Cmd     *exec.Cmd
	Console *os.File // pty master, when process.terminal and no console socket
}

// creation carries what must be undone if create fails half-way.
type creation struct {
	o  Options
	co CreateOpts
	c  *Container
	// early is the part of config.json the init was cloned with before
	// the whole was decoded (early.go); nil otherwise.
	early *specs.Spec
	// seccomp, on the early path, is the raw linux.seccomp, decoded and
	// compiled while the init sets up its rootfs (early.go).
	seccomp *deferredSeccomp
	lock    *state.Lock
	cg      *cgroups.Manager
	cmd     *exec.Cmd
	conn    *proto.Conn
	done    bool
	// filter is linux.seccomp compiled by preflight; the init gets the
	// program, not the profile.
	filter *seccomp.Filter
	// idmap makes idmapped mounts the init asks for (idmap.go).
	idmap *rootfs.IDMapper
}

// Create runs the OCI create operation. On any error everything it made
// (state dir, cgroup, processes) is gone when it returns.
func Create(o Options, co CreateOpts) (*Container, *Init, error) {
	if err := gspec.ValidateID(co.ID); err != nil {
		return nil, nil, err
	}
	if !filepath.IsAbs(co.Bundle) {
		return nil, nil, fmt.Errorf("bundle path %q is relative; give an absolute path", co.Bundle)
	}
	raw, err := gspec.ReadConfig(co.Bundle)
	if err != nil {
		return nil, nil, err
	}
	if early := earlyConfigOf(o, raw); early != nil {
		return createEarly(o, co, raw, early)
	}
	return createChecked(o, co, raw)
}

// checked is what check derives from a valid spec.
type checked struct {
	plan   *nsPlan
	filter *seccomp.Filter
}

// check validates what Load cannot: the flags against the spec, the
// namespaces, rootless rules, capabilities, id mappings and the seccomp
// profile (compiled here). The resources are the cgroup manager's.
func check(co CreateOpts, s *specs.Spec) (*checked, error) {
	if s.Linux == nil {
		return nil, errors.New("linux: section missing; gocker runs Linux containers only")
	}
	if s.Process != nil && s.Process.Terminal && co.ConsoleSocket == "" && !co.Foreground {
		return nil, errors.New("cannot allocate tty if gocker will detach without setting console socket")
	}
	if co.ConsoleSocket != "" && (co.Foreground || s.Process == nil || !s.Process.Terminal) {
		return nil, errors.New("cannot use console socket if gocker will not detach or allocate tty")
	}
	plan, err := planNamespaces(s)
	if err != nil {
		return nil, err
	}
	if err := checkRootless(s); err != nil {
		return nil, err
	}
	if !gspec.HasNamespace(s, specs.MountNamespace) && len(s.Mounts) > 0 {
		// They would land on the host's mount table; runc refuses such a
		// config, crun skips them. Skipping lets bundles that share the
		// host's mounts run.
		logrus.Warnf("no mount namespace: the %d mounts in config.json are not performed", len(s.Mounts))
	}
	filter, err := preflight(s)
	if err != nil {
		return nil, err
	}
	return &checked{plan: plan, filter: filter}, nil
}

// newCreation takes the container's state dir and lock.
func newCreation(o Options, co CreateOpts, cg *cgroups.Manager) (*creation, error) {
	lock, err := o.store().Create(co.ID)
	if err != nil {
		return nil, err
	}
	cr := &creation{o: o, co: co, lock: lock, cg: cg}
	cr.c = &Container{ID: co.ID, Store: o.store(), State: &state.State{
		ID: co.ID, Bundle: co.Bundle, Created: time.Now().UTC(), Owner: owner(),
	}, cg: cg}
	return cr, nil
}

// useSpec gives the container its validated spec.
func (cr *creation) useSpec(s *specs.Spec, v *checked) error {
	cr.c.Spec, cr.filter = s, v.filter
	cr.c.State.Rootfs = gspec.RootfsPath(s, cr.co.Bundle)
	cr.c.State.Annotations = s.Annotations
	return cr.c.setupNotify(cr.co.NotifySocket)
}

// finish runs the rest of create. wait, if not nil, is called once the
// init is cloned and must give the container its spec (useSpec).
func (cr *creation) finish(raw []byte, plan *nsPlan, wait func() error) (*Container, *Init, error) {
	init, err := cr.run(raw, plan, wait)
	if err != nil {
		return nil, nil, err
	}
	cr.done = true
	return cr.c, init, nil
}

func owner() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return ""
}

func (cr *creation) run(raw []byte, plan *nsPlan, wait func() error) (*Init, error) {
	c, st := cr.c, cr.c.Store
	if err := state.WriteFileAtomic(st.Path(c.ID, state.ConfigFile), raw, 0o600); err != nil {
		return nil, fmt.Errorf("snapshot config.json: %w", err)
	}
	fifo, err := makeFifo(st.Dir(c.ID))
	if err != nil {
		return nil, err
	}
	defer fifo.Close()
	var sock *os.File
	if cr.co.ConsoleSocket != "" {
		if sock, err = dialConsole(cr.co.ConsoleSocket); err != nil {
			return nil, err
		}
		defer sock.Close()
	}
	conn, childSync, err := proto.Pair()
	if err != nil {
		return nil, err
	}
	cr.conn = conn
	join, finish, err := cr.beginCgroup()
	if err != nil {
		return nil, err
	}
	defer join.Close()
	args := &spawnArgs{
		spec: cr.spawnSpec(), plan: plan, childSync: childSync, fifo: fifo, preserve: cr.co.ListenFDs + cr.co.PreserveFDs,
		stdio: [3]*os.File{os.Stdin, os.Stdout, os.Stderr}, logLevel: logrus.GetLevel().String(),
		scratch: st.Dir(c.ID), cgroup: join.unified,
	}
	spawnErr := cr.spawnInit(args, join)
	childSync.Close()
	// The early path sends the bootstrap while the v1 cgroup directories
	// are still being made, and the init's way into them after it: the
	// init decodes the bootstrap meanwhile.
	later := wait != nil && spawnErr == nil
	var cgErr error
	if !later {
		cgErr = finish() // before any return: cleanup must not race the mkdirs
	}
	if err := cr.afterSpawn(wait, spawnErr, cgErr); err != nil {
		if later {
			finish()
		}
		return nil, err
	}
	if later {
		if err := cr.sendBootstrap(plan, join, true); err != nil {
			finish()
			return nil, err
		}
		cr.seccomp.start()
		if err := cr.sendCgroup(plan, join, finish); err != nil {
			return nil, err
		}
		return cr.converse(sock)
	}
	c.State.CgroupShared = !cr.cg.Created()
	// A cgroup namespace must be unshared inside the cgroup, so then the
	// move comes first.
	if join.parent && plan.cgroupNS {
		if err := cr.joinCgroup(c.State.InitPid); err != nil {
			return nil, fmt.Errorf("join cgroup: %w", err)
		}
	}
	if err := cr.sendBootstrap(plan, join, false); err != nil {
		return nil, err
	}
	// Without a cgroup namespace the init sets up its rootfs while we
	// move it: on cgroup v1 a cgroup.procs write waits for an RCU grace
	// period, often 5-10 ms. It asks for its hooks only after we are done
	// here.
	if join.parent && !plan.cgroupNS {
		if err := cr.joinCgroup(c.State.InitPid); err != nil {
			return nil, fmt.Errorf("join cgroup: %w", err)
		}
	}
	return cr.converse(sock)
}

// spawnInit clones the init, into the unified cgroup when join has one.
func (cr *creation) spawnInit(args *spawnArgs, join *initCgroupJoin) error {
	var err error
	cr.cmd, err = spawn(args)
	if err != nil && args.cgroup != nil {
		// clone3 or CLONE_INTO_CGROUP unavailable (kernel < 5.7): fork,
		// then move the child with cgroup.procs.
		logrus.Debugf("create: CLONE_INTO_CGROUP failed (%v), joining the cgroup after fork", err)
		args.cgroup = nil
		join.parent = true // not cloned into the unified hierarchy
		cr.cmd, err = spawn(args)
	}
	return err
}

// afterSpawn reports the first failure of the clone, of the whole spec
// (wait, on the early path) and of the cgroup, and records the init.
func (cr *creation) afterSpawn(wait func() error, spawnErr, cgErr error) error {
	if wait != nil {
		// A config that fails validation is reported as such, even if
		// the clone failed on it too (say, a bad uid mapping).
		if err := wait(); err != nil {
			return err
		}
	}
	if spawnErr != nil {
		return fmt.Errorf("start container init: %w", spawnErr)
	}
	if cgErr != nil {
		return cgErr
	}
	pid := cr.cmd.Process.Pid
	start, _, err := procStat(pid)
	if err != nil {
		return fmt.Errorf("read init start time: %w", err)
	}
	cr.c.State.InitPid, cr.c.State.InitStart = pid, start
	return nil
}

// sendBootstrap sends the init its bootstrap: with the rootfs handle and,
// unless later, the tasks files of its v1 cgroups.
func (cr *creation) sendBootstrap(plan *nsPlan, join *initCgroupJoin, later bool) error {
	c := cr.c
	absMountSources(c.Spec, c.State.Bundle)
	b := &proto.Bootstrap{
		ID: c.ID, Bundle: c.State.Bundle, Rootfs: c.State.Rootfs, Spec: specForInit(c.Spec, cr.filter),
		Seccomp: cr.filter.Wire(),
		NoPivot: cr.co.NoPivot, NoNewKeyring: cr.co.NoNewKeyring,
		CgroupNS: plan.cgroupNS, TimeNS: plan.timeNS, PreserveFDs: cr.co.ListenFDs + cr.co.PreserveFDs, ListenFDs: cr.co.ListenFDs,
		// createContainer hooks count too: they must run with the init
		// already in its cgroup, which the round trip guarantees.
		RuntimeHooks: len(hooks.List(c.Spec.Hooks, hooks.Prestart))+len(hooks.List(c.Spec.Hooks, hooks.CreateRuntime))+
			len(hooks.List(c.Spec.Hooks, hooks.CreateContainer)) > 0,
		State: *c.specState(specs.StateCreating),
		// Later, the init waits for the cgroup message, sent once it is
		// in its cgroup or knows how to get there.
		InCgroup: !join.parent || later, CgroupLater: later,
		SeccompLater: cr.seccomp != nil,
	}
	if later {
		b.CgroupPaths = join.paths // Created() is not known yet
	} else {
		b.CgroupPaths = cr.cgroupPaths()
	}
	var err error
	if b.CgroupMounts, err = cgroupMountsFor(c.Spec, cr.cg); err != nil {
		return err
	}
	rootDir, err := openRootfsIn(c.State.InitPid, plan, c.State.Rootfs)
	if err != nil {
		return err
	}
	var fds []int
	if rootDir != nil {
		defer rootDir.Close()
		b.RootFD, fds = true, append(fds, int(rootDir.Fd()))
	}
	if !later && !join.parent {
		b.CgroupTasks, fds = len(join.tasks), append(fds, join.tasksFds()...)
	}
	if err := cr.conn.SendFds(&proto.Msg{Type: proto.TypeBootstrap, Bootstrap: b}, fds...); err != nil {
		return cr.initError(err)
	}
	return nil
}

// sendCgroup finishes the cgroup after an early bootstrap and sends the
// init the tasks files of its v1 cgroups (Index: how many), or none after
// moving it ourselves.
func (cr *creation) sendCgroup(plan *nsPlan, join *initCgroupJoin, finish func() error) error {
	if err := finish(); err != nil {
		return err
	}
	// Only now: Create's goroutine reads the resources.
	if err := cr.cg.UseResources(resourcesOf(cr.c.Spec)); err != nil {
		return err
	}
	cr.c.State.CgroupShared = !cr.cg.Created()
	var fds []int
	if join.parent {
		if err := cr.joinCgroup(cr.c.State.InitPid); err != nil {
			return fmt.Errorf("join cgroup: %w", err)
		}
	} else {
		fds = join.tasksFds()
	}
	if err := cr.conn.SendFds(&proto.Msg{Type: proto.TypeCgroup, Index: len(fds)}, fds...); err != nil {
		return cr.initError(err)
	}
	return nil
}

// converse serves the init's requests until it says it is ready.
func (cr *creation) converse(sock *os.File) (*Init, error) {
	c := cr.c
	init := &Init{Cmd: cr.cmd}
	defer cr.closeIDMapper()
	for {
		m, fd, err := cr.conn.Recv()
		if err != nil {
			return nil, cr.initError(err)
		}
		switch m.Type {
		case proto.TypeError:
			return nil, cr.initError(&proto.PeerError{Msg: m.Msg})
		case proto.TypeHooks:
			// "created": runtime-spec's state says the create operation is
			// done after lifecycle step 2, and these hooks come after it
			// (the OCI validation suite's hooks_stdin checks this; crun
			// agrees, runc 1.1 says "creating").
			st := c.specState(specs.StateCreated)
			err := hooks.Run(c.Spec.Hooks, hooks.Prestart, st)
			if err == nil {
				err = hooks.Run(c.Spec.Hooks, hooks.CreateRuntime, st)
			}
			if err != nil {
				cr.conn.Send(&proto.Msg{Type: proto.TypeError, Msg: err.Error()}, -1)
				return nil, err
			}
			if err := cr.conn.Send(&proto.Msg{Type: proto.TypeHooksDone}, -1); err != nil {
				return nil, cr.initError(err)
			}
		case proto.TypeIDMap:
			if err := cr.sendIDMapped(m.Index); err != nil {
				return nil, cr.initError(err)
			}
		case proto.TypeConsole:
			master := os.NewFile(uintptr(fd), "pty-master")
			if sock != nil {
				err := sendFd(sock, m.Msg, fd)
				master.Close()
				if err != nil {
					return nil, fmt.Errorf("send pty master to console socket: %w", err)
				}
			} else {
				init.Console = master
			}
		case proto.TypeReady:
			// Limits go on now, not at mkdir: pids.max counts the threads
			// the Go init starts, and a small limit would kill it at
			// startup ("pthread_create failed"). Nothing of the user's
			// runs before this point; runc sets them here too.
			// state.json goes to disk meanwhile: the init waits for both,
			// and neither needs the other (a failure undoes both).
			saved := make(chan error, 1)
			go func() { saved <- c.Store.Save(c.State) }()
			limErr := cr.cg.SetLimits()
			if err := <-saved; limErr == nil && err != nil {
				return nil, fmt.Errorf("save state: %w", err)
			}
			if limErr != nil {
				return nil, fmt.Errorf("set cgroup limits: %w", limErr)
			}
			if cr.co.PidFile != "" {
				if err := writePidFile(cr.co.PidFile, c.State.InitPid); err != nil {
					return nil, err
				}
			}
			if cr.co.PidfdSocket != "" {
				if err := sendPidfd(cr.co.PidfdSocket, c.State.InitPid); err != nil {
					return nil, err
				}
			}
			ack := &proto.Msg{Type: proto.TypeAck}
			if cr.seccomp != nil {
				if err := cr.takeSeccomp(); err != nil {
					return nil, err
				}
				ack.Seccomp = cr.filter.Wire()
			}
			if err := cr.conn.Send(ack, -1); err != nil {
				return nil, cr.initError(err)
			}
			cr.conn.Close()
			cr.conn = nil
			return init, nil
		default:
			if fd >= 0 {
				unix.Close(fd)
			}
			return nil, fmt.Errorf("sync: unexpected message %q from init", m.Type)
		}
	}
}

// initError turns a sync failure into the error the user sees: the init's
// own words when it sent them, else how it died.
func (cr *creation) initError(err error) error {
	if proto.IsPeerError(err) {
		return err
	}
	if err == io.EOF || errors.Is(err, unix.ECONNRESET) || errors.Is(err, unix.EPIPE) {
		// The init may have said why before it went, while we were busy
		// sending (the cgroup message after an early bootstrap).
		if pe := cr.conn.Leftover(); pe != nil {
			return pe
		}
		cr.cmd.Process.Kill()
		if werr := cr.cmd.Wait(); werr != nil {
			return fmt.Errorf("container init exited before it was ready: %v", werr)
		}
		return errors.New("container init exited before it was ready")
	}
	return fmt.Errorf("container init: %w", err)
}

// cleanup undoes a failed create: kill the init, remove its cgroup (all
// hierarchies) and the state dir. It runs for success too, to drop the lock.
func (cr *creation) cleanup() {
	defer cr.lock.Release()
	if cr.conn != nil {
		cr.conn.Close()
	}
	if d := cr.seccomp; d != nil && d.done != nil {
		<-d.done // a failed create must not exit in the middle of its cache write
	}
	if cr.done {
		return
	}
	if cr.cmd != nil && cr.cmd.Process != nil {
		cr.cmd.Process.Kill()
		cr.cmd.Wait()
	}
	if cr.cg != nil && cr.cg.Created() {
		if err := cr.cg.KillAll(); err != nil {
			logrus.Warnf("cleanup: kill cgroup: %v", err)
		}
		if err := cr.cg.Destroy(); err != nil {
			logrus.Warnf("cleanup: remove cgroup: %v", err)
		}
	}
	if err := cr.c.Store.Remove(cr.co.ID); err != nil {
		logrus.Warnf("cleanup: %v", err)
	}
}

// makeFifo creates the exec fifo in the container's state dir and returns
// an O_PATH handle of that dir for the init: it opens the fifo relative to
// it (openat) once set up, which needs no /proc inside the container and
// works after pivot_root or chroot. The handle is close-on-exec.
func makeFifo(dir string) (*os.File, error) {
	// 0622: the init may run as another uid in a user namespace and must be
	// able to open it for writing.
	old := unix.Umask(0)
	err := unix.Mkfifo(filepath.Join(dir, state.FifoFile), 0o622)
	unix.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("create exec fifo: %w", err)
	}
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open state dir: %w", err)
	}
	return os.NewFile(uintptr(fd), "state-dir"), nil
}

func writePidFile(path string, pid int) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	if err := state.WriteFileAtomic(abs, []byte(strconv.Itoa(pid)), 0o644); err != nil {
		return fmt.Errorf("write pid file: %w", err)
	}
	return nil
}

// absMountSources makes relative bind sources absolute against the bundle
// (runtime-spec config.md: a relative source is relative to the bundle).
// The parent does it, because the init, already mapped into a user
// namespace, may not be allowed into a 0700 bundle directory.
func absMountSources(s *specs.Spec, bundle string) {
	for i := range s.Mounts {
		m := &s.Mounts[i]
		if m.Source == "" || filepath.IsAbs(m.Source) || !isBind(m) {
			continue
		}
		m.Source = filepath.Join(bundle, m.Source)
	}
}

func isBind(m *specs.Mount) bool {
	if m.Type == "bind" {
		return true
	}
	for _, o := range m.Options {
		if o == "bind" || o == "rbind" {
			return true
		}
	}
	return false
}

// cgroupMountsFor lists the host's v1 hierarchies for the init when s
// mounts "cgroup": reading them there, mountinfo and /proc/self/cgroup,
// took the init 0.25 ms on its start path (perf record); here the parent
// waits for the init's start anyway, and has the mount table from placing
// the cgroup.
func cgroupMountsFor(s *specs.Spec, cg *cgroups.Manager) ([]rootfs.Hierarchy, error) {
	if cgroups.IsV2() {
		return nil, nil
	}
	for _, m := range s.Mounts {
		if m.Type == "cgroup" {
			var hs []rootfs.Hierarchy
			var err error
			if ms := cg.Mounts(); ms != nil {
				hs, err = rootfs.HierarchiesFrom(ms)
			} else {
				hs, err = rootfs.HostHierarchies()
			}
			if err != nil {
				return nil, fmt.Errorf("list cgroup hierarchies: %w", err)
			}
			return hs, nil
		}
	}
	return nil, nil
}

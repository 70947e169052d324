// Package initproc is the container's init: the child side of create. It
// runs as `gocker init` inside the namespaces the parent created, sets up
// the root filesystem and the process, waits for `start` on the exec fifo,
// and execve(2)s the user's program.
//
// Everything here runs on one locked OS thread: capabilities, credentials,
// the seccomp filter and some namespaces are per thread, and the thread
// that calls execve is the one whose attributes the program inherits.
package initproc

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/gocker/gocker/hooks"
	"github.com/gocker/gocker/runtime/proto"
	"github.com/gocker/gocker/runtime/rootfs"
	"github.com/gocker/gocker/runtime/state"
)

func init() {
	// Runs before main, so the main goroutine stays on the main thread.
	if len(os.Args) > 1 && os.Args[1] == "init" {
		goruntime.LockOSThread()
		// Non-dumpable until execve: processes without CAP_SYS_PTRACE
		// cannot ptrace us or open our /proc/PID/{exe,fd,mem,environ,...}
		// (ptrace(2), "Ptrace access mode checking"), while we hold host
		// fds and still run the gocker binary (CVE-2016-9962). execve of
		// the user's program resets the flag; credential changes on the way
		// keep it off (fs.suid_dumpable). Both builds of gocker-init are
		// already non-dumpable here, from their first instruction (the
		// asm entry point, the C constructor); StartedDumpable tells.
		d, err := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0)
		startedDumpable = err != nil || d != 0
		unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
		// The comm of a re-exec through /proc/self/exe or an fd is a
		// number or "exe"; name it for ps, OOM logs and `gocker ps`.
		name := []byte("gocker:[init]\x00")
		unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(&name[0])), 0, 0, 0)
	}
}

var startedDumpable bool

// StartedDumpable reports whether the process was still dumpable when Go
// code first ran: a build without its entry point (see cmd/gocker-init).
func StartedDumpable() bool { return startedDumpable }

// Main is the whole init. It returns only on failure, after reporting the
// error to the parent, or to stderr when the parent is gone.
func Main() error {
	// Our stderr is the container's: warnings (already shown by the parent,
	// which validated the same config) must not land in its output.
	logrus.SetOutput(io.Discard)
	conn, fifoFd, err := fds()
	if err != nil {
		return err
	}
	err = run(conn, fifoFd)
	if err != nil && err != io.EOF {
		// The parent shows this to the user as the reason create failed.
		// After start the parent is gone: stderr is all that is left.
		if conn.Send(&proto.Msg{Type: proto.TypeError, Msg: err.Error()}, -1) != nil {
			fmt.Fprintf(os.Stderr, "gocker init: %v\n", err)
		}
	}
	return err
}

func fds() (*proto.Conn, int, error) {
	syncFd, err := strconv.Atoi(os.Getenv(proto.EnvSyncFD))
	if err != nil {
		return nil, -1, fmt.Errorf("init: %s not set; gocker init is internal", proto.EnvSyncFD)
	}
	fifoFd, err := strconv.Atoi(os.Getenv(proto.EnvFifoFD))
	if err != nil {
		return nil, -1, fmt.Errorf("init: %s not set", proto.EnvFifoFD)
	}
	os.Unsetenv(proto.EnvSyncFD)
	os.Unsetenv(proto.EnvFifoFD)
	parentBuild = os.Getenv(proto.EnvBuild)
	os.Unsetenv(proto.EnvBuild)
	return proto.NewConn(os.NewFile(uintptr(syncFd), "sync")), fifoFd, nil
}

// parentBuild is the build of the gocker that started us.
var parentBuild string

func run(conn *proto.Conn, fifoFd int) error {
	// Before reading anything: another build may speak another protocol.
	if err := proto.CheckBuild(parentBuild); err != nil {
		return err
	}
	// The fd, if any, is the rootfs opened by the parent in our mount
	// namespace, for a rootfs whose path we may not be able to walk
	// (runtime/rootless.go, openRootfsIn).
	m, fds, err := conn.ExpectFds(proto.TypeBootstrap)
	if err != nil {
		return err
	}
	b := m.Bootstrap
	rootFD := -1
	if b.RootFD && len(fds) > 0 {
		rootFD, fds = fds[0], fds[1:]
	}
	if b.CgroupLater {
		if err := closeAll(fds); err != nil {
			return err
		}
		fds = nil
	}
	enter := enterCgroup(conn, b, fds)
	// The v1 cgroup dirs are made while we start (CgroupLater); waiting
	// for them here held the rootfs setup up by up to 2.5 ms (traced).
	// Only what shows or depends on the cgroup needs us inside it: the
	// cgroup mount (rootfs calls enter first), a cgroup namespace (made
	// by enter), a scheduler or I/O priority (a v1 cpu cgroup refuses a
	// real-time task), and the exec of the program (enter runs after the
	// rootfs at the latest). A user namespace needs the parent for
	// idmapped mounts, over the same socket: join first there too.
	if !b.CgroupLater || b.Exec || needsCgroupFirst(b.Spec) || hasUserNS(b.Spec) {
		if err := enter(); err != nil {
			return err
		}
	}
	if b.Exec {
		return runExec(conn, b)
	}
	s := b.Spec
	if err := setupNamespaces(b); err != nil {
		return err
	}
	if err := setupEarlyProcess(b); err != nil {
		return err
	}
	ro := &rootfs.Options{Spec: s, Rootfs: b.Rootfs, NoPivot: b.NoPivot, CgroupPaths: b.CgroupPaths, CgroupNS: b.CgroupNS, EnterCgroup: enter,
		Hierarchies: b.CgroupMounts}
	if hasUserNS(s) {
		// In a user namespace the parent makes idmapped mounts for us
		// (mount_setattr needs privilege over the source's namespace).
		ro.IDMapped = askIDMapped(conn)
	}
	if rootFD >= 0 {
		ro.RootFD = os.NewFile(uintptr(rootFD), "rootfs")
	}
	if hasNewMountNS(s) {
		err := rootfs.Prepare(ro)
		if ro.RootFD != nil {
			ro.RootFD.Close() // Prepare keeps what Pivot needs
		}
		if err != nil {
			return err
		}
	}
	if err := enter(); err != nil {
		return err
	}
	// runtime-spec: prestart and createRuntime hooks run in the runtime
	// namespace after the environment is created and before pivot_root.
	// Without such hooks there is nothing to wait for: the parent may still
	// be moving us into our cgroup, but it finishes that before it reads
	// our "ready", and the program runs only after start.
	// process.scheduler and ioPriority are set at create, on our thread,
	// and a real-time policy decides whether a v1 cpu cgroup takes us:
	// wait for the cgroup join there too (the parent answers after it).
	if b.RuntimeHooks || (needsCgroupFirst(s) && !b.InCgroup) {
		if err := conn.Send(&proto.Msg{Type: proto.TypeHooks}, -1); err != nil {
			return err
		}
		if _, _, err := conn.Expect(proto.TypeHooksDone); err != nil {
			return err
		}
	}
	st := b.State
	st.Status = specs.StateCreated // see the parent's hooks: create is done
	// createContainer hooks: in the container namespace, before pivot_root,
	// with paths resolved in the runtime namespace (still visible here).
	if err := hooks.Run(s.Hooks, hooks.CreateContainer, &st); err != nil {
		return err
	}
	if hasNewMountNS(s) {
		if err := rootfs.Pivot(ro); err != nil {
			return err
		}
	} else if err := unix.Chroot(b.Rootfs); err != nil {
		return fmt.Errorf("chroot %s: %w", b.Rootfs, err)
	}
	if err := setupConsole(conn, s); err != nil {
		return err
	}
	if err := writeSysctls(s); err != nil {
		return err
	}
	if hasNewMountNS(s) {
		if err := rootfs.Finish(ro); err != nil {
			return err
		}
	}
	p, err := prepareProcess(b)
	if err != nil {
		return err
	}
	// The ack tells us the parent saved our pid. EOF here means the parent
	// died before that: nobody could ever start or delete us, so exit.
	ack, err := readyAck(conn)
	if err != nil {
		return err
	}
	if b.SeccompLater {
		if p.filter, err = ack.Seccomp.Filter(); err != nil {
			return err
		}
	}
	conn.Close()
	if err := waitForStart(fifoFd); err != nil {
		return err
	}
	st.Status = specs.StateCreated
	if err := hooks.Run(s.Hooks, hooks.StartContainer, &st); err != nil {
		return err
	}
	return p.exec()
}

// enterCgroup returns a func that, on its first call, joins the
// container's cgroups and then unshares the cgroup namespace, whose root
// is the caller's cgroup at unshare time (cgroup_namespaces(7)). fds are
// the bootstrap's tasks files; with CgroupLater they come in their own
// message once the parent has made the cgroup.
func enterCgroup(conn *proto.Conn, b *proto.Bootstrap, fds []int) func() error {
	done := false
	return func() error {
		if done {
			return nil
		}
		done = true
		n := b.CgroupTasks
		if b.CgroupLater {
			m, tasks, err := conn.ExpectFds(proto.TypeCgroup)
			if err != nil {
				return err
			}
			fds, n = tasks, m.Index
		}
		if err := joinCgroup(fds, n); err != nil {
			return err
		}
		if b.CgroupNS && !b.Exec {
			if err := unix.Unshare(unix.CLONE_NEWCGROUP); err != nil {
				return fmt.Errorf("unshare cgroup namespace: %w", err)
			}
		}
		return nil
	}
}

// joinCgroup writes "0" into each v1 tasks file the parent sent, which
// moves this thread, the one that will execve, into the container's
// cgroup (runtime/cgroups: BeginCreate and OpenTasks say why not
// cgroup.procs), and closes them: no host fd may stay open.
func joinCgroup(fds []int, n int) error {
	var err error
	for i, fd := range fds {
		if i < n && err == nil {
			if _, werr := unix.Write(fd, []byte("0")); werr != nil {
				// Still the host's /proc: the rootfs comes later.
				name, _ := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
				err = fmt.Errorf("join cgroup %s: %w", filepath.Dir(name), werr)
			}
		}
		unix.Close(fd)
	}
	if err == nil && len(fds) != n {
		err = fmt.Errorf("join cgroup: got %d tasks files, want %d", len(fds), n)
	}
	return err
}

// closeAll closes fds a message should not have carried.
func closeAll(fds []int) error {
	for _, fd := range fds {
		unix.Close(fd)
	}
	if len(fds) > 0 {
		return fmt.Errorf("sync: %d unexpected fds with the bootstrap", len(fds))
	}
	return nil
}

// readyAck tells the parent we are set up and waits for its answer.
func readyAck(conn *proto.Conn) (*proto.Msg, error) {
	if err := conn.Send(&proto.Msg{Type: proto.TypeReady}, -1); err != nil {
		return nil, err
	}
	m, _, err := conn.Expect(proto.TypeAck)
	return m, err
}

func hasNewMountNS(s *specs.Spec) bool {
	if s.Linux == nil {
		return false
	}
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == specs.MountNamespace {
			return true
		}
	}
	return false
}

// waitForStart blocks opening the exec fifo for writing until `start` opens
// it for reading, then writes one byte so start knows we are going on. The
// fd stays open, close-on-exec, so start sees end-of-file exactly when our
// execve succeeds (or we die): runtime-spec runs poststart hooks after the
// user program is executed.
func waitForStart(dirFd int) error {
	fd, err := unix.Openat(dirFd, state.FifoFile, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open exec fifo: %w", err)
	}
	unix.Close(dirFd)
	if _, err := unix.Write(fd, []byte{0}); err != nil {
		return fmt.Errorf("write exec fifo: %w", err)
	}
	return nil
}

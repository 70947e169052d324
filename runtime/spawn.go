package runtime

import (
	"fmt"
	"os"
	"os/exec"
	goruntime "runtime"
	"strconv"
	"strings"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/gocker/gocker/runtime/proto"
)

var nsFlags = map[specs.LinuxNamespaceType]uintptr{
	specs.PIDNamespace:     unix.CLONE_NEWPID,
	specs.NetworkNamespace: unix.CLONE_NEWNET,
	specs.MountNamespace:   unix.CLONE_NEWNS,
	specs.IPCNamespace:     unix.CLONE_NEWIPC,
	specs.UTSNamespace:     unix.CLONE_NEWUTS,
	specs.UserNamespace:    unix.CLONE_NEWUSER,
	specs.CgroupNamespace:  unix.CLONE_NEWCGROUP,
	specs.TimeNamespace:    unix.CLONE_NEWTIME,
}

// nsPlan says how the child gets each namespace.
type nsPlan struct {
	clone    uintptr  // new namespaces made by clone(2)
	unshare  uintptr  // new namespaces the C constructor unshares after joining a user ns
	setns    []string // paths the parent's spawning thread joins (any type but user and mnt)
	setnsT   []uintptr
	cEnter   string // user/mnt paths for the C constructor, in join order
	cgroupNS bool   // init unshares a cgroup ns once in its cgroup
	timeNS   bool   // init unshares a time ns and writes the offsets
	userNS   bool   // the container has a new user ns (parent writes maps)
	// forkPid: cEnter holds every namespace, the user one first, and the
	// constructor forks into the joined pid namespace and reports the
	// child's pid (an unprivileged exec; see nsenter.c).
	forkPid bool
}

// planNamespaces decides, per namespace, who makes or joins it. Joins come
// before creations so that new namespaces are owned by a joined user
// namespace, as runtime-spec's user namespace ordering expects.
func planNamespaces(s *specs.Spec) (*nsPlan, error) {
	p := &nsPlan{}
	if s.Linux == nil {
		return p, nil
	}
	var userPath, mntPath, timePath string
	newFlags := uintptr(0)
	for _, ns := range s.Linux.Namespaces {
		flag, ok := nsFlags[ns.Type]
		if !ok {
			return nil, fmt.Errorf("linux.namespaces: unknown type %q", ns.Type)
		}
		if ns.Path == "" {
			newFlags |= flag
			continue
		}
		switch ns.Type {
		case specs.UserNamespace:
			userPath = ns.Path
		case specs.MountNamespace:
			mntPath = ns.Path
		case specs.TimeNamespace:
			// setns(2) into a time namespace fails with EUSERS in a
			// multi-threaded process (kernel/time/namespace.c), so the C
			// constructor joins it too.
			timePath = ns.Path
		default:
			p.setns = append(p.setns, ns.Path)
			p.setnsT = append(p.setnsT, flag)
		}
	}
	p.cEnter = cEnterList(timePath, userPath, mntPath)
	p.cgroupNS = newFlags&unix.CLONE_NEWCGROUP != 0
	p.timeNS = newFlags&unix.CLONE_NEWTIME != 0
	newFlags &^= unix.CLONE_NEWCGROUP | unix.CLONE_NEWTIME
	if userPath != "" {
		// New namespaces must belong to the joined user namespace, so the
		// constructor unshares them after setns. A new pid namespace would
		// need one more fork there; that combination is refused for now.
		if newFlags&unix.CLONE_NEWPID != 0 {
			return nil, fmt.Errorf("linux.namespaces: a new pid namespace together with a joined user namespace is not supported")
		}
		p.unshare = newFlags
		return p, nil
	}
	p.clone = newFlags
	p.userNS = newFlags&unix.CLONE_NEWUSER != 0
	return p, nil
}

// initBinary names the build of the init this spawn runs: the cgo one
// when its C constructor has work to do, else the pure-Go one, whose
// start is 1.4 ms shorter (no libc, no pthreads; measured, run
// /bin/true). The pure-Go build's entry point that makes it non-dumpable
// is written for amd64 only.
func (p *nsPlan) initBinary() string {
	if p.cEnter != "" || p.forkPid || p.unshare != 0 || goruntime.GOARCH != "amd64" {
		return nsenterBinaryName
	}
	return initBinaryName
}

// cEnterList is the constructor's join list. Time comes first, while we
// still have every capability in the host user namespace; then user, then
// mnt, which needs CAP_SYS_ADMIN in the user namespace that owns it.
func cEnterList(timePath, userPath, mntPath string) string {
	var list []string
	for _, e := range [][2]string{{"time", timePath}, {"user", userPath}, {"mnt", mntPath}} {
		if e[1] != "" {
			list = append(list, e[0]+":"+e[1])
		}
	}
	return strings.Join(list, ",")
}

// idMaps converts the spec's mappings for os/exec, which writes them from
// the parent between clone and the child's execve.
func idMaps(m []specs.LinuxIDMapping) []syscall.SysProcIDMap {
	out := make([]syscall.SysProcIDMap, len(m))
	for i, x := range m {
		out[i] = syscall.SysProcIDMap{ContainerID: int(x.ContainerID), HostID: int(x.HostID), Size: int(x.Size)}
	}
	return out
}

type spawnArgs struct {
	spec      *specs.Spec
	plan      *nsPlan
	childSync *os.File
	fifo      *os.File // nil for exec: no start handshake
	preserve  int
	cgroup    *os.File // non-nil: clone3 CLONE_INTO_CGROUP into this cgroup dir (v2)
	stdio     [3]*os.File
	logLevel  string
	// scratch is a directory gocker owns (the container's state dir), the
	// second lower layer of the overlay that protects the binary; "" falls
	// back to a sealed memfd copy (see sealedSelf).
	scratch string
}

// spawn starts `gocker init` in its namespaces.
func spawn(a *spawnArgs) (*exec.Cmd, error) {
	// Never execve the host binary itself (CVE-2019-5736, see selfexe.go).
	exe, err := sealedSelf(a.scratch, a.plan.initBinary())
	if err != nil {
		return nil, fmt.Errorf("protect gocker binary: %w", err)
	}
	defer exe.Close()
	cmd := &exec.Cmd{Args: []string{"gocker", "init"}}
	for i := 0; i < a.preserve; i++ {
		cmd.ExtraFiles = append(cmd.ExtraFiles, os.NewFile(uintptr(3+i), "preserved-"+strconv.Itoa(3+i)))
	}
	syncFd := 3 + len(cmd.ExtraFiles)
	cmd.ExtraFiles = append(cmd.ExtraFiles, a.childSync)
	fifoFd := -1
	if a.fifo != nil {
		cmd.ExtraFiles = append(cmd.ExtraFiles, a.fifo)
		fifoFd = syncFd + 1
	}
	cmd.Env = []string{
		proto.EnvSyncFD + "=" + strconv.Itoa(syncFd),
		proto.EnvFifoFD + "=" + strconv.Itoa(fifoFd),
		proto.EnvLogLvl + "=" + a.logLevel,
		proto.EnvBuild + "=" + proto.Build,
		// The init runs one goroutine; with one P the Go runtime starts
		// fewer threads before main and its sysmon retakes less. The
		// container's program gets process.env, not this.
		"GOMAXPROCS=1",
	}
	listener, err := dialSeccompListener(a.spec)
	if err != nil {
		return nil, err
	}
	if listener != nil {
		defer listener.Close()
		cmd.ExtraFiles = append(cmd.ExtraFiles, listener)
		cmd.Env = append(cmd.Env, proto.EnvSeccompFD+"="+strconv.Itoa(2+len(cmd.ExtraFiles)))
	}
	if a.plan.cEnter != "" {
		cmd.Env = append(cmd.Env, proto.EnvNsJoin+"="+a.plan.cEnter)
	}
	if a.plan.forkPid {
		cmd.Env = append(cmd.Env, proto.EnvNsFork+"=1")
	}
	if a.plan.unshare != 0 {
		cmd.Env = append(cmd.Env, proto.EnvNsUnshare+"="+strconv.FormatUint(uint64(a.plan.unshare), 16))
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = a.stdio[0], a.stdio[1], a.stdio[2]
	attr := &syscall.SysProcAttr{Cloneflags: a.plan.clone}
	if a.plan.userNS {
		attr.UidMappings = idMaps(a.spec.Linux.UIDMappings)
		attr.GidMappings = idMaps(a.spec.Linux.GIDMappings)
		// Without CAP_SETGID over our own namespace the kernel takes a gid
		// map only once setgroups is denied (user_namespaces(7)); os/exec
		// writes "deny" then.
		attr.GidMappingsEnableSetgroups = !unprivileged()
		// Our kuid 0 is unmapped in the new namespace (it shows as the
		// overflow uid), and execve as a non-root uid drops every
		// capability. Become the namespace's root first; os/exec does this
		// after the maps are written.
		attr.Credential = &syscall.Credential{Uid: 0, Gid: 0, NoSetGroups: true}
	}
	if a.cgroup != nil {
		attr.UseCgroupFD, attr.CgroupFD = true, int(a.cgroup.Fd())
	}
	cmd.SysProcAttr = attr
	path, exeDup, err := execPath(exe, 3+len(cmd.ExtraFiles))
	if err != nil {
		return nil, err
	}
	defer exeDup.Close()
	cmd.Path = path
	if len(a.plan.setns) == 0 {
		return cmd, cmd.Start()
	}
	return cmd, startJoined(cmd, a.plan)
}

// startJoined forks the child from a thread that has joined the requested
// namespaces: the child inherits that thread's namespaces (pid and time
// only apply to children anyway). The thread stays locked and dirty, so Go
// retires it when the goroutine ends.
func startJoined(cmd *exec.Cmd, p *nsPlan) error {
	errc := make(chan error, 1)
	go func() {
		goruntime.LockOSThread() // never unlocked: the thread is discarded
		for i, path := range p.setns {
			fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				errc <- fmt.Errorf("join namespace %s: %w", path, err)
				return
			}
			err = unix.Setns(fd, int(p.setnsT[i]))
			unix.Close(fd)
			if err != nil {
				errc <- fmt.Errorf("join namespace %s: %w", path, err)
				return
			}
		}
		errc <- cmd.Start()
	}()
	return <-errc
}

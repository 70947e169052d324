package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// newUserNS returns a user namespace with the given mappings, as an fd for
// mount_setattr(2)'s userns_fd.
//
// A user namespace lives only as long as something holds it, and its maps
// can only be written from outside, for a process inside it
// (user_namespaces(7)). So we start a process in a new user namespace,
// write its maps, take the namespace fd and kill it. The process never runs
// a single instruction of its own: with PTRACE_TRACEME the kernel stops it
// with SIGTRAP right after execve(2) (ptrace(2), "execve(2) under ptrace"),
// so the program it executes (our own binary, which is always there) does
// not matter. runc uses the same trick; forking without exec from Go is not
// safe.
//
// We write the maps ourselves rather than let os/exec do it: os/exec
// writes /proc/PID/uid_map, and before pivot_root the init of a container
// with its own pid namespace still has the host's /proc, where PID is
// another process.
func newUserNS(uid, gid []specs.LinuxIDMapping) (*os.File, error) {
	proc, err := openOwnProcfs()
	if err != nil {
		return nil, err
	}
	defer proc.Close()
	// The tracer of a PTRACE_TRACEME child is the thread that forked it.
	goruntime.LockOSThread()
	defer goruntime.UnlockOSThread()
	attr := &syscall.ProcAttr{Sys: &syscall.SysProcAttr{
		Cloneflags: unix.CLONE_NEWUSER,
		Ptrace:     true,
		Pdeathsig:  syscall.SIGKILL,
	}}
	pid, err := syscall.ForkExec("/proc/self/exe", []string{"gocker-userns-holder"}, attr)
	if err != nil {
		return nil, fmt.Errorf("start a process in a new user namespace: %w", err)
	}
	defer reapHolder(pid)
	dir := strconv.Itoa(pid)
	if err := writeMap(proc, dir+"/uid_map", uid); err != nil {
		return nil, err
	}
	if err := writeMap(proc, dir+"/gid_map", gid); err != nil {
		return nil, err
	}
	fd, err := unix.Openat(int(proc.Fd()), dir+"/ns/user", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open user namespace: %w", err)
	}
	return os.NewFile(uintptr(fd), "userns"), nil
}

// openOwnProcfs returns the root of a procfs of our pid namespace: a new,
// detached instance (fsopen(2), never attached anywhere), or /proc when
// that cannot be made and /proc is ours.
func openOwnProcfs() (*os.File, error) {
	if f, err := newProcfs(); err == nil {
		return f, nil
	}
	if self, err := os.Readlink("/proc/self"); err != nil || self != strconv.Itoa(os.Getpid()) {
		return nil, errors.New("no procfs of this pid namespace: cannot write the idmapping's uid_map")
	}
	return os.OpenFile("/proc", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
}

func newProcfs() (*os.File, error) {
	fsfd, err := unix.Fsopen("proc", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("fsopen proc: %w", err)
	}
	defer unix.Close(fsfd)
	if err := unix.FsconfigCreate(fsfd); err != nil {
		return nil, fmt.Errorf("create procfs: %w", err)
	}
	mfd, err := unix.Fsmount(fsfd, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOEXEC)
	if err != nil {
		return nil, fmt.Errorf("fsmount procfs: %w", err)
	}
	return os.NewFile(uintptr(mfd), "procfs"), nil
}

// writeMap writes one uid_map or gid_map in a single write(2), as the
// kernel requires.
func writeMap(proc *os.File, name string, ms []specs.LinuxIDMapping) error {
	var b strings.Builder
	for _, m := range ms {
		fmt.Fprintf(&b, "%d %d %d\n", m.ContainerID, m.HostID, m.Size)
	}
	fd, err := unix.Openat(int(proc.Fd()), name, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", name, err)
	}
	defer unix.Close(fd)
	if _, err := unix.Write(fd, []byte(b.String())); err != nil {
		return fmt.Errorf("write %s %q: %w", filepath.Base(name), strings.TrimSpace(b.String()), err)
	}
	return nil
}

// reapHolder kills the holder and waits for it. A traced child reports its
// stops to wait4 as well, so wait until it is really gone.
func reapHolder(pid int) {
	unix.Kill(pid, unix.SIGKILL)
	for {
		var ws unix.WaitStatus
		_, err := unix.Wait4(pid, &ws, 0, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil || ws.Exited() || ws.Signaled() {
			return
		}
	}
}

package initproc

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/gocker/gocker/runtime/caps"
	"github.com/gocker/gocker/runtime/proto"
	"github.com/gocker/gocker/runtime/seccomp"
)

// process is the user's program, resolved and ready to execve.
type process struct {
	spec     *specs.Process
	path     string
	env      []string
	caps     *caps.Set
	filter   *seccomp.Filter
	listener *listener // SCMP_ACT_NOTIFY agent connection, or nil
	sched    *sched    // scheduler, I/O priority, personality, exec affinity
	preserve int
}

var errNoProcess = errors.New("config.json has no process")

// prepareProcess resolves everything that can fail before we tell the
// parent we are ready, so that create (not start) reports a missing
// binary or a bad cwd, as runc does.
func prepareProcess(b *proto.Bootstrap) (*process, error) {
	ps := b.Spec.Process
	if ps == nil {
		return &process{}, nil
	}
	p := &process{spec: ps, preserve: b.PreserveFDs}
	p.env = withHome(ps.Env, ps.User.UID)
	if b.ListenFDs > 0 {
		// sd_listen_fds(3) checks LISTEN_PID against getpid(): our pid as
		// the program will see it, 1 in a new pid namespace.
		p.env = append(p.env, "LISTEN_FDS="+strconv.Itoa(b.ListenFDs), "LISTEN_PID="+strconv.Itoa(os.Getpid()))
	}
	// process.cwd is resolved here, after pivot_root, inside the
	// container's mount namespace (CVE-2024-21626 lived in this step).
	if err := unix.Chdir(ps.Cwd); err != nil {
		return nil, fmt.Errorf("chdir to cwd (%q) set in config.json: %w", ps.Cwd, err)
	}
	if wd, err := os.Getwd(); err != nil || !strings.HasPrefix(wd, "/") {
		return nil, fmt.Errorf("cwd %q is outside the container root", ps.Cwd)
	}
	path, err := lookPath(ps.Args[0], p.env)
	if err != nil {
		return nil, err
	}
	p.path = path
	if ps.Capabilities != nil {
		if p.caps, err = caps.Prepare(ps.Capabilities); err != nil {
			return nil, err
		}
	}
	if b.Seccomp != nil {
		if p.filter, err = b.Seccomp.Filter(); err != nil {
			return nil, err
		}
	} else if b.Spec.Linux != nil && b.Spec.Linux.Seccomp != nil {
		if p.filter, err = seccomp.Compile(b.Spec.Linux.Seccomp); err != nil {
			return nil, err
		}
	}
	if p.listener, err = prepareListener(b, p.filter); err != nil {
		return nil, err
	}
	if p.sched, err = prepareSched(b); err != nil {
		return nil, err
	}
	if err := p.sched.applyEarly(); err != nil {
		return nil, err
	}
	return p, nil
}

// lookPath finds file in the PATH of the container's environment, with the
// error text of Go's os/exec, which runc users know.
func lookPath(file string, env []string) (string, error) {
	if strings.Contains(file, "/") {
		if err := executable(file); err != nil {
			return "", fmt.Errorf("exec: %q: %w", file, err)
		}
		return file, nil
	}
	pathEnv := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "PATH="); ok {
			pathEnv = v
		}
	}
	for _, dir := range filepath.SplitList(pathEnv) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, file)
		if executable(p) == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("exec: %q: executable file not found in $PATH", file)
}

func executable(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if fi.IsDir() || fi.Mode()&0o111 == 0 {
		return unix.EACCES
	}
	return nil
}

// withHome adds HOME from the container's /etc/passwd when env lacks it,
// as runc does; "/" when the user has no entry.
func withHome(env []string, uid uint32) []string {
	for _, e := range env {
		if strings.HasPrefix(e, "HOME=") {
			return env
		}
	}
	home := "/"
	if f, err := os.Open("/etc/passwd"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fs := strings.Split(sc.Text(), ":")
			if len(fs) >= 6 && fs[2] == strconv.FormatUint(uint64(uid), 10) && fs[5] != "" {
				home = fs[5]
				break
			}
		}
		f.Close()
	}
	return append(append([]string{}, env...), "HOME="+home)
}

// exec drops privileges in the order the kernel requires and execve()s.
// Order: rlimits (may need CAP_SYS_RESOURCE), bounding set (needs
// CAP_SETPCAP), keep caps across setuid, groups/gid/uid, the remaining
// cap sets, no_new_privs, seccomp last (it may forbid syscalls we use),
// execve. Host fds are marked close-on-exec before all that.
func (p *process) exec() error {
	if p.spec == nil {
		return errNoProcess
	}
	ps := p.spec
	unix.Umask(umask(ps.User))
	// No host fd may reach the program: only stdio and --preserve-fds
	// survive execve (CVE-2024-21626). Done first, before a seccomp
	// profile that may not allow close_range.
	if err := unix.CloseRange(uint(3+p.preserve), ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err != nil {
		return fmt.Errorf("close_range: %w", err)
	}
	if err := setRlimits(ps.Rlimits); err != nil {
		return err
	}
	// Labels are set while we are still root, as runc does, before the
	// credential and capability changes below.
	if err := applyLSM(ps); err != nil {
		return err
	}
	if err := p.sched.applyLate(); err != nil {
		return err
	}
	if p.caps != nil {
		if err := p.caps.DropBounding(); err != nil {
			return err
		}
	}
	// Without no_new_privs, installing a filter needs CAP_SYS_ADMIN, which
	// the user's cap sets may not keep: install it while we still have it.
	if p.filter != nil && !ps.NoNewPrivileges {
		if err := p.installSeccomp(); err != nil {
			return err
		}
	}
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl keepcaps: %w", err)
	}
	if err := setUser(ps.User); err != nil {
		return err
	}
	if p.caps != nil {
		if err := p.caps.ApplyFinal(); err != nil {
			return err
		}
	}
	// A uid change re-sets dumpable to fs.suid_dumpable, which a host
	// may have set to 1: stay non-dumpable until execve (CVE-2016-9962).
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl dumpable: %w", err)
	}
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl keepcaps: %w", err)
	}
	if ps.NoNewPrivileges {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("prctl no_new_privs: %w", err)
		}
		if p.filter != nil {
			if err := p.installSeccomp(); err != nil {
				return err
			}
		}
	}
	err := unix.Exec(p.path, ps.Args, p.env)
	return fmt.Errorf("exec %s: %w", p.path, err)
}

func (p *process) installSeccomp() error {
	fd, err := p.filter.Install()
	if err != nil {
		return fmt.Errorf("install seccomp filter: %w", err)
	}
	if fd >= 0 {
		if p.listener == nil {
			unix.Close(fd)
			return errors.New("seccomp: the filter has a listener but there is no agent connection")
		}
		return p.listener.send(fd)
	}
	return nil
}

func umask(u specs.User) int {
	if u.Umask != nil {
		return int(*u.Umask)
	}
	return 0o022
}

// setUser switches credentials on this thread only: raw syscalls, because
// Go's syscall.Setuid broadcasts to all threads and refuses to when cgo is
// linked, and only the thread that calls execve matters.
func setUser(u specs.User) error {
	if err := setgroups(u.AdditionalGids); err != nil {
		return err
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, uintptr(u.GID), uintptr(u.GID), uintptr(u.GID)); e != 0 {
		return fmt.Errorf("setgid %d: %w", u.GID, e)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, uintptr(u.UID), uintptr(u.UID), uintptr(u.UID)); e != 0 {
		return fmt.Errorf("setuid %d: %w", u.UID, e)
	}
	return nil
}

func setgroups(gids []uint32) error {
	// In a user namespace with setgroups denied, setgroups(2) fails with
	// EPERM; an empty list is then the only possible state and is fine.
	if len(gids) == 0 {
		if data, err := os.ReadFile("/proc/self/setgroups"); err == nil && strings.TrimSpace(string(data)) == "deny" {
			return nil
		}
	}
	list := make([]uint32, len(gids))
	copy(list, gids)
	var ptr uintptr
	if len(list) > 0 {
		ptr = uintptrOf(list)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETGROUPS, uintptr(len(list)), ptr, 0); e != 0 {
		return fmt.Errorf("setgroups %v: %w", gids, e)
	}
	return nil
}

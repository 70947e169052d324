package initproc

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/gocker/gocker/runtime/proto"
	"github.com/gocker/gocker/runtime/rootfs"
)

// setupNamespaces does the namespace work that must happen inside the
// child: names in the new UTS namespace, and the cgroup and time
// namespaces, which the parent cannot create at clone time.
func setupNamespaces(b *proto.Bootstrap) error {
	s := b.Spec
	if s.Hostname != "" {
		if err := unix.Sethostname([]byte(s.Hostname)); err != nil {
			return fmt.Errorf("sethostname %q: %w", s.Hostname, err)
		}
	}
	if s.Domainname != "" {
		if err := unix.Setdomainname([]byte(s.Domainname)); err != nil {
			return fmt.Errorf("setdomainname %q: %w", s.Domainname, err)
		}
	}
	// A cgroup namespace's root is the caller's cgroup at unshare time
	// (cgroup_namespaces(7)), so it is made here, after the parent has put
	// us into the container's cgroup, not at clone.
	if b.CgroupNS {
		if err := unix.Unshare(unix.CLONE_NEWCGROUP); err != nil {
			return fmt.Errorf("unshare cgroup namespace: %w", err)
		}
	}
	// Offsets can only be written before any process enters the new time
	// namespace (time_namespaces(7)); unshare(CLONE_NEWTIME) only sets the
	// namespace for children, and our execve moves us into it.
	if b.TimeNS {
		if err := unix.Unshare(unix.CLONE_NEWTIME); err != nil {
			return fmt.Errorf("unshare time namespace: %w", err)
		}
		if err := writeTimeOffsets(s.Linux.TimeOffsets); err != nil {
			return err
		}
	}
	if !b.NoNewKeyring {
		// A session keyring of its own keeps the container from reading the
		// host's keys (keyrings(7)). Kernels without keyrings give ENOSYS.
		name := "_ses." + b.ID
		if _, err := unix.KeyctlJoinSessionKeyring(name); err != nil && err != unix.ENOSYS {
			return fmt.Errorf("join session keyring: %w", err)
		}
	}
	return nil
}

func writeTimeOffsets(offs map[string]specs.LinuxTimeOffset) error {
	if len(offs) == 0 {
		return nil
	}
	var sb strings.Builder
	for clock, o := range offs {
		switch clock {
		case "monotonic", "boottime":
		default:
			return fmt.Errorf("linux.timeOffsets: unknown clock %q", clock)
		}
		fmt.Fprintf(&sb, "%s %d %d\n", clock, o.Secs, o.Nanosecs)
	}
	if err := writeProc("self/timens_offsets", []byte(sb.String())); err != nil {
		return fmt.Errorf("write timens_offsets: %w", err)
	}
	return nil
}

// setupEarlyProcess applies what needs the host's /proc, before pivot_root.
func setupEarlyProcess(b *proto.Bootstrap) error {
	p := b.Spec.Process
	if p == nil || p.OOMScoreAdj == nil {
		return nil
	}
	v := fmt.Sprintf("%d", *p.OOMScoreAdj)
	if err := writeProc("self/oom_score_adj", []byte(v)); err != nil {
		// Lowering the score needs CAP_SYS_RESOURCE (proc(5)).
		if errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM) {
			return fmt.Errorf("set process.oomScoreAdj to %s: %w; going below the current value needs CAP_SYS_RESOURCE", v, err)
		}
		return fmt.Errorf("set process.oomScoreAdj to %s: %w", v, err)
	}
	return nil
}

// writeSysctls writes linux.sysctl through the container's /proc, so the
// values land in the container's namespaces.
func writeSysctls(s *specs.Spec) error {
	if s.Linux == nil || len(s.Linux.Sysctl) == 0 {
		return nil
	}
	// Through a verified procfs root, refusing overmounts (procfs.go).
	proc, err := openProcRoot("/proc")
	if err != nil {
		return fmt.Errorf("linux.sysctl: %w", err)
	}
	defer proc.Close()
	for k, v := range s.Linux.Sysctl {
		rel := filepath.Join("sys", strings.ReplaceAll(k, ".", "/"))
		if err := proc.write(rel, []byte(v)); err != nil {
			return fmt.Errorf("linux.sysctl %s=%s: %w", k, v, err)
		}
	}
	return nil
}

// setupConsole makes a pty from the container's devpts, binds the slave to
// /dev/console, makes it our controlling terminal and stdio, and sends the
// master to the parent (which forwards it to --console-socket or proxies it).
func setupConsole(conn *proto.Conn, s *specs.Spec) error {
	if s.Process == nil || !s.Process.Terminal {
		return nil
	}
	master, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open /dev/ptmx: %w", err)
	}
	defer unix.Close(master)
	if err := unix.IoctlSetPointerInt(master, unix.TIOCSPTLCK, 0); err != nil {
		return fmt.Errorf("unlock pty: %w", err)
	}
	n, err := unix.IoctlGetUint32(master, unix.TIOCGPTN)
	if err != nil {
		return fmt.Errorf("get pty number: %w", err)
	}
	slavePath := fmt.Sprintf("/dev/pts/%d", n)
	slave, err := unix.Open(slavePath, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", slavePath, err)
	}
	defer unix.Close(slave)
	u := s.Process.User
	if err := unix.Fchown(slave, int(u.UID), int(u.GID)); err != nil {
		return fmt.Errorf("chown %s: %w", slavePath, err)
	}
	if sz := s.Process.ConsoleSize; sz != nil {
		ws := &unix.Winsize{Row: uint16(sz.Height), Col: uint16(sz.Width)}
		if err := unix.IoctlSetWinsize(master, unix.TIOCSWINSZ, ws); err != nil {
			return fmt.Errorf("set console size: %w", err)
		}
	}
	// Bind the pty we opened, not whatever /dev/pts/N names by the time
	// of the mount (CVE-2025-52565).
	src := slavePath
	if onProcfs("/proc/self/fd") {
		src = fmt.Sprintf("/proc/self/fd/%d", slave)
	}
	if err := rootfs.SetupConsole(src); err != nil {
		return err
	}
	if _, err := unix.Setsid(); err != nil {
		return fmt.Errorf("setsid: %w", err)
	}
	if err := unix.IoctlSetInt(slave, unix.TIOCSCTTY, 0); err != nil {
		return fmt.Errorf("set controlling terminal: %w", err)
	}
	for i := 0; i < 3; i++ {
		if err := unix.Dup3(slave, i, 0); err != nil {
			return fmt.Errorf("dup pty slave to fd %d: %w", i, err)
		}
	}
	return conn.Send(&proto.Msg{Type: proto.TypeConsole}, master)
}

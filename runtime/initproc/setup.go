package initproc

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/gocker/gocker/runtime/proto"
)

// setupNamespaces does the namespace work that must happen inside the
// child: names in the new UTS namespace, and the time namespace, which
// the parent cannot create at clone time (the cgroup one: enterCgroup).
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
	// The cgroup namespace is made by enterCgroup, once we are in the
	// container's cgroup: its root is the caller's cgroup at unshare time.
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

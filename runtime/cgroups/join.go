package cgroups

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/opencontainers/cgroups"
	"golang.org/x/sys/unix"
)

// AddPid moves pid into the existing cgroup, as `exec` does for an extra
// process. sub maps a v1 controller (or "" for every hierarchy, the only
// key on v2) to a path below the container's cgroup that must already
// exist (runc exec --cgroup [<controller>:]<path>). A nil sub means the
// container's cgroup itself.
func (m *Manager) AddPid(pid int, sub map[string]string) error {
	for ctrl, dir := range m.Paths() {
		target, err := subPath(dir, pick(sub, ctrl))
		if err != nil {
			return err
		}
		if err := cgroups.WriteCgroupProc(target, pid); err != nil {
			return fmt.Errorf("join cgroup %s: %w", target, err)
		}
	}
	return nil
}

// OpenDir opens the unified (v2) cgroup directory, or a sub-cgroup of it,
// for clone3's CLONE_INTO_CGROUP. On v1 it returns nil: only cgroup v2
// can place a child at fork (clone(2)).
func (m *Manager) OpenDir(sub map[string]string) (*os.File, error) {
	if !m.v2 {
		return nil, nil
	}
	dir, ok := m.Paths()[""]
	if !ok {
		return nil, nil
	}
	target, err := subPath(dir, pick(sub, ""))
	if err != nil {
		return nil, err
	}
	fd, err := unix.Open(target, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open cgroup %s: %w", target, err)
	}
	return os.NewFile(uintptr(fd), target), nil
}

func pick(sub map[string]string, ctrl string) string {
	if p, ok := sub[ctrl]; ok {
		return p
	}
	// A v1 hierarchy that mounts several controllers ("cpu,cpuacct") is
	// keyed by each of them in Paths; "name=systemd" never has a sub path.
	for _, c := range strings.Split(ctrl, ",") {
		if p, ok := sub[c]; ok {
			return p
		}
	}
	return sub[""]
}

// subPath joins dir and a relative sub-cgroup, refusing one that leaves
// dir, and checks that it exists: exec never creates cgroups.
func subPath(dir, sub string) (string, error) {
	if sub == "" {
		return dir, nil
	}
	p := filepath.Join(dir, sub)
	if p != dir && !strings.HasPrefix(p, dir+"/") {
		return "", fmt.Errorf("sub-cgroup %q is outside the container's cgroup", sub)
	}
	if fi, err := os.Stat(p); err != nil || !fi.IsDir() {
		return "", fmt.Errorf("sub-cgroup %q does not exist in %s", sub, dir)
	}
	return p, nil
}

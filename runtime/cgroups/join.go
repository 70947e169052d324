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

// OpenDir opens the unified (v2, or a hybrid host's cgroup2) cgroup
// directory, or a sub-cgroup of it, for clone3's CLONE_INTO_CGROUP. On a
// pure v1 host it returns nil: only cgroup v2 can place a child at fork
// (clone(2)).
func (m *Manager) OpenDir(sub map[string]string) (*os.File, error) {
	dir, ok := m.Paths()[""]
	if !ok {
		return nil, nil
	}
	target, err := subPath(dir, pick(sub, ""))
	if err != nil {
		return nil, err
	}
	return openDir(target)
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

// BeginCreate is Create for a caller that clones the container's init
// meanwhile. It returns the cgroup2 directory to clone the init into with
// CLONE_INTO_CGROUP, if any, and finish, which waits for the rest.
//
// Why: every cgroup.procs write takes the global cgroup_threadgroup_rwsem
// for writing (kernel/cgroup/cgroup.c, cgroup_attach_lock), a percpu rwsem
// whose writer first waits for an RCU grace period (rcu_sync_enter): 5-15
// ms on this 2-core host, which was the longest step of `gocker run`. So
// the init enters its cgroup by itself (OpenTasks) or at clone, neither of
// which takes the rwsem for writing. On v2 the
// whole cgroup is made first: making it enables controllers in the
// parents' subtree_control, which with a task already below would migrate
// it, taking that grace period after all (cgroup_update_dfl_csses). The v1
// hierarchies of a host in hybrid mode are made while the init starts;
// their unified directory, which has no controllers, first.
func (m *Manager) BeginCreate() (unified *os.File, finish func() error, err error) {
	dir := m.Paths()[""]
	switch {
	case m.systemd || dir == "":
		done := make(chan error, 1)
		go func() { done <- m.Create() }()
		return nil, func() error { return <-done }, nil
	case m.v2:
		if err := m.Create(); err != nil {
			return nil, nil, err
		}
		if m.none {
			return nil, func() error { return nil }, nil
		}
		f, err := openDir(dir)
		return f, func() error { return nil }, err
	}
	busy, err := m.occupied(-1)
	if err != nil {
		return nil, nil, fmt.Errorf("apply cgroup: %w", err)
	}
	m.checked, m.shared, m.created = true, busy, !busy
	var f *os.File
	if os.MkdirAll(dir, 0o755) == nil {
		f, _ = openDir(dir) // else the caller moves the init itself
	}
	done := make(chan error, 1)
	go func() { done <- m.Create() }()
	return f, func() error { return <-done }, nil
}

func openDir(dir string) (*os.File, error) {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open cgroup %s: %w", dir, err)
	}
	return os.NewFile(uintptr(fd), dir), nil
}

// SelfJoin reports whether the init may enter its cgroup by itself: not
// with the systemd driver (systemd moves processes into its scopes) and
// not without a cgroup.
func (m *Manager) SelfJoin() bool { return !m.systemd && !m.none }

// OpenTasks opens the "tasks" file of the cgroup in each v1 hierarchy,
// with our credentials, for the init to write "0" into. That moves only
// the writing thread, and the kernel takes the global threadgroup rwsem
// (and its grace period) only when a whole thread group moves or the
// thread is not the writer (cgroup_procs_write_start). The init's other
// Go threads stay behind and die at execve, which keeps the thread that
// wrote. A write through a file opened here is checked against our
// credentials, not the init's (__cgroup1_procs_write uses the opener's
// f_cred), so it works from a user namespace too.
//
// sub picks sub-cgroups as for AddPid (exec --cgroup).
func (m *Manager) OpenTasks(sub map[string]string) ([]*os.File, error) {
	var files []*os.File
	seen := map[string]bool{}
	for ctrl, dir := range m.Paths() {
		if ctrl == "" || dir == "" || seen[dir] {
			continue
		}
		seen[dir] = true
		f, err := openTasks(dir, pick(sub, ctrl))
		if err != nil {
			for _, f := range files {
				f.Close()
			}
			return nil, err
		}
		files = append(files, f)
	}
	return files, nil
}

func openTasks(dir, sub string) (*os.File, error) {
	target, err := subPath(dir, sub)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(target, "tasks"), os.O_WRONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("join cgroup %s: %w", target, err)
	}
	return f, nil
}

// HasUnified reports whether the cgroup has a cgroup2 directory (v2, or
// a hybrid host's unified hierarchy).
func (m *Manager) HasUnified() bool { return m.Paths()[""] != "" }

// Package rootfs builds the container's root filesystem from inside its new
// mount namespace: propagation, the spec's mounts, /dev, the switch of root
// (pivot_root or MS_MOVE+chroot), masked and read-only paths.
//
// The container's init calls, in order: Prepare, Pivot, (SetupConsole),
// Finish. Every mount destination is resolved inside the rootfs with
// filepath-securejoin and mounted through an O_PATH handle
// (/proc/self/fd/N), so a symlink in the image cannot send a mount to the
// host (CVE-2021-30465) and nothing can swap the path between the check and
// the mount.
package rootfs

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/moby/sys/mountinfo"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Options is what the container's init knows when it builds the rootfs.
type Options struct {
	Spec        *specs.Spec       // full config
	Rootfs      string            // absolute host path of the rootfs dir (already validated to exist)
	NoPivot     bool              // --no-pivot: MS_MOVE + chroot instead of pivot_root
	CgroupPaths map[string]string // v1: subsystem -> absolute host cgroup dir of this container ("" key = unified/v2 path); used for "cgroup" mounts
	CgroupNS    bool              // container has its own cgroup namespace
	// Hierarchies, if not nil, are the host's cgroup mounts for a
	// "cgroup" mount on v1 (HostHierarchies, as the parent read them).
	Hierarchies []Hierarchy
	// EnterCgroup, if set, puts the init into the container's cgroups
	// (and its cgroup namespace); it is called before the first "cgroup"
	// or "cgroup2" mount, which shows them.
	EnterCgroup func() error
	// RootFD, if set, is an O_PATH handle on the rootfs directory in this
	// mount namespace, opened by the parent, which may search directories
	// the init cannot (see rootfd.go). Rootfs then only names it.
	RootFD *os.File
	// top is Prepare's handle on the rootfs mount made from RootFD, for
	// Pivot.
	top *os.File
	// IDMapped, if set, returns spec mount i as a detached idmapped mount
	// (IDMapper.Open, run by the parent: see idmap.go). The init of a
	// container with its own user namespace cannot make one itself. When
	// nil, Prepare makes them in this process.
	IDMapped func(i int) (*os.File, error)
}

// setup is the state shared by the steps of Prepare.
type setup struct {
	o    *Options
	root *os.File // O_PATH handle on the rootfs bind mount
	// rootfs is o.Rootfs with symlinks resolved, to compare against
	// /proc/self/mountinfo and /proc/self/fd/N link targets.
	rootfs string
	// idmapper makes idmapped mounts when o.IDMapped is nil; created on
	// first use, closed at the end of Prepare.
	idmapper *IDMapper
}

// Prepare runs before the switch of root: it sets the propagation of "/"
// (rslave unless linux.rootfsPropagation says otherwise), makes the rootfs
// a mount point, performs every spec mount in order and creates /dev.
func Prepare(o *Options) error {
	if o == nil || o.Spec == nil {
		return errors.New("rootfs: no spec")
	}
	prop, err := parsePropagation(linuxOf(o.Spec).RootfsPropagation)
	if err != nil {
		return err
	}
	// Refuse a bad idmap field before mounting anything.
	if err := ValidateIDMapped(o.Spec); err != nil {
		return err
	}
	rootfs, err := rootfsPath(o)
	if err != nil {
		return err
	}
	// First of all, stop our mounts from reaching the host: the new mount
	// namespace starts as a copy whose shared mounts are still peers of the
	// host's (mount_namespaces(7), "Shared subtrees").
	early := prop
	if prop&unix.MS_UNBINDABLE != 0 {
		// An unbindable rootfs could not be bound onto itself (mount(2):
		// EINVAL); it becomes unbindable after the switch, in Finish.
		early = unix.MS_SLAVE | unix.MS_REC
	}
	if err := unix.Mount("", "/", "", early, ""); err != nil {
		return fmt.Errorf("set propagation of /: %w", err)
	}
	// A recursive slave or private "/" leaves no mount shared (MS_SLAVE
	// turns a shared mount into a slave, or private if it has no peers:
	// mount_namespaces(7)), so only other propagations need the check,
	// which reads mountinfo.
	if early&unix.MS_REC == 0 || early&(unix.MS_SLAVE|unix.MS_PRIVATE) == 0 {
		if err := makeParentPrivate(rootfs); err != nil {
			return err
		}
	}
	root, err := bindRoot(o, rootfs)
	if err != nil {
		return err
	}
	defer root.Close()
	s := &setup{o: o, root: root, rootfs: rootfs}
	defer s.closeIDMapper()

	for i, m := range o.Spec.Mounts {
		if err := s.mountIndex(i, m); err != nil {
			return err
		}
	}
	if needsDev(o.Spec) {
		if err := s.createDev(); err != nil {
			return fmt.Errorf("create /dev: %w", err)
		}
	}
	return nil
}

// Finish runs after the switch of root: read-only paths, masked paths,
// root.readonly and, if asked for, shared propagation of the new "/".
func Finish(o *Options) error {
	if o == nil || o.Spec == nil {
		return errors.New("rootfs: no spec")
	}
	l := linuxOf(o.Spec)
	for _, p := range l.ReadonlyPaths {
		if err := readonlyPath(p); err != nil {
			return fmt.Errorf("readonly path %s: %w", p, err)
		}
	}
	for _, p := range l.MaskedPaths {
		if err := maskPath(p); err != nil {
			return fmt.Errorf("mask path %s: %w", p, err)
		}
	}
	if o.Spec.Root != nil && o.Spec.Root.Readonly {
		if err := remountReadonly("/"); err != nil {
			return fmt.Errorf("remount / read-only: %w", err)
		}
	}
	prop, err := parsePropagation(l.RootfsPropagation)
	if err != nil {
		return err
	}
	// Shared is applied only now, to the new root: before the switch it
	// would have made the rootfs a peer of the host's mount and defeated
	// pivot_root's "not shared" rule. Unbindable likewise (see Prepare).
	if prop&(unix.MS_SHARED|unix.MS_UNBINDABLE) != 0 {
		if err := unix.Mount("", "/", "", prop, ""); err != nil {
			return fmt.Errorf("set propagation of /: %w", err)
		}
	}
	return nil
}

func linuxOf(s *specs.Spec) *specs.Linux {
	if s.Linux == nil {
		return &specs.Linux{}
	}
	return s.Linux
}

// makeParentPrivate makes the mount holding the rootfs directory private
// when it is shared. pivot_root(2) fails with EINVAL when the parent mount
// of new_root is shared, and the bind of the rootfs onto itself would
// otherwise propagate to the parent's peers.
func makeParentPrivate(rootfs string) error {
	mounts, err := mountinfo.GetMounts(nil)
	if err != nil {
		return fmt.Errorf("read mountinfo: %w", err)
	}
	var parent *mountinfo.Info
	for _, m := range mounts {
		if !isUnder(rootfs, m.Mountpoint) {
			continue
		}
		// Longest match wins; on ties the later entry is the top mount.
		if parent == nil || len(m.Mountpoint) >= len(parent.Mountpoint) {
			parent = m
		}
	}
	if parent == nil || !strings.Contains(parent.Optional, "shared:") {
		return nil
	}
	if err := unix.Mount("", parent.Mountpoint, "", unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make %s private: %w", parent.Mountpoint, err)
	}
	return nil
}

// isUnder reports whether path p is dir or below it (both clean, absolute).
func isUnder(p, dir string) bool {
	if dir == "/" || p == dir {
		return true
	}
	return strings.HasPrefix(p, dir+"/")
}

// fdPath names an open file through procfs, so that mount(2) acts on the
// exact inode the handle was opened on, not on whatever the path resolves
// to now.
func fdPath(f *os.File) string {
	return fmt.Sprintf("/proc/self/fd/%d", f.Fd())
}

package rootfs

import (
	"fmt"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The rootfs may sit below directories the init cannot search: in a new
// user namespace the init is, on the host, the uid container root maps to,
// and it has no capability over files whose owner is not mapped (a bundle
// in a 0700 root-owned directory). The parent then opens the rootfs for it
// in this mount namespace (Options.RootFD, see runtime/rootless.go), and
// every step here works from that handle, never from the path.

// rootfsPath is the rootfs's path with symlinks resolved, for messages and
// for comparing with mountinfo and /proc/self/fd link targets. With
// RootFD it is read from the handle (d_path needs no search permission).
func rootfsPath(o *Options) (string, error) {
	if o.RootFD != nil {
		p, err := os.Readlink(fdPath(o.RootFD))
		if err != nil {
			return "", fmt.Errorf("rootfs %s: %w", o.Rootfs, err)
		}
		return p, nil
	}
	p, err := filepath.EvalSymlinks(o.Rootfs)
	if err != nil {
		return "", fmt.Errorf("rootfs %s: %w", o.Rootfs, err)
	}
	return p, nil
}

// bindRoot makes the rootfs a mount point, as pivot_root(2) needs new_root
// to be one (recursive, so mounts already inside the rootfs stay), and
// returns an O_PATH handle on that new mount.
//
// From a path that is mount(rootfs, rootfs, MS_BIND|MS_REC) and a fresh
// open. From RootFD the path cannot be walked again to reach the new
// mount, so the tree is cloned (open_tree(2), OPEN_TREE_CLONE) and the
// clone attached onto the directory (move_mount(2)): the clone's handle
// then is the mount's root, and Pivot uses it (Options.top).
func bindRoot(o *Options, rootfs string) (*os.File, error) {
	if o.RootFD == nil {
		if err := unix.Mount(rootfs, rootfs, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return nil, fmt.Errorf("bind rootfs %s onto itself: %w", rootfs, err)
		}
		root, err := os.OpenFile(rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil, fmt.Errorf("open rootfs: %w", err)
		}
		return root, nil
	}
	dir := int(o.RootFD.Fd())
	tree, err := unix.OpenTree(dir, "", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_EMPTY_PATH|unix.AT_RECURSIVE)
	if err != nil {
		return nil, fmt.Errorf("bind rootfs %s onto itself: open_tree: %w", rootfs, err)
	}
	root := os.NewFile(uintptr(tree), rootfs)
	if err := unix.MoveMount(tree, "", dir, "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH); err != nil {
		root.Close()
		return nil, fmt.Errorf("bind rootfs %s onto itself: move_mount: %w", rootfs, err)
	}
	top, err := unix.FcntlInt(uintptr(tree), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		root.Close()
		return nil, fmt.Errorf("dup rootfs handle: %w", err)
	}
	o.top = os.NewFile(uintptr(top), rootfs)
	return root, nil
}

// pivotTop is Pivot for a rootfs that Prepare bound from RootFD: the new
// root is entered through the handle on its mount.
func pivotTop(o *Options) error {
	top := o.top
	o.top = nil
	defer top.Close()
	if !o.NoPivot {
		return pivotRoot(int(top.Fd()))
	}
	rootfs, err := os.Readlink(fdPath(top))
	if err != nil {
		return fmt.Errorf("rootfs %s: %w", o.Rootfs, err)
	}
	if err := hideHostProcSys(rootfs); err != nil {
		return err
	}
	if err := unix.Fchdir(int(top.Fd())); err != nil {
		return fmt.Errorf("chdir to rootfs: %w", err)
	}
	return moveCwdToRoot()
}

// bindHostSys stands in for a sysfs mount the kernel refused with EPERM:
// a fresh sysfs needs CAP_SYS_ADMIN over the user namespace owning the
// network namespace (fs/sysfs/mount.c), so a user-namespaced container
// that shares the host's network namespace, as rootless ones do, cannot
// have one. Like crun, it gets the host's /sys bound recursively, with the
// mount's flags (nosuid...) on top and "ro" on every mount of the tree.
func (s *setup) bindHostSys(m specs.Mount, o *mountOpts, h *os.File) error {
	bind := *o
	bind.flags |= unix.MS_BIND | unix.MS_REC
	bind.data = nil
	if o.flags&unix.MS_RDONLY != 0 {
		// A fresh sysfs would have no submounts; the host's has writable
		// ones (cgroup, debugfs...), so "ro" covers the whole tree.
		bind.recAttr.Attr_set |= unix.MOUNT_ATTR_RDONLY
	}
	return bindOnto("/sys", h, &bind, func() (*os.File, error) { return s.reopen(m.Destination) })
}

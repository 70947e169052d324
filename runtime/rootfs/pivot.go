package rootfs

import (
	"fmt"
	"path/filepath"
	"sort"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// Pivot makes the rootfs the root of the mount namespace and the working
// directory "/".
//
// By default it uses pivot_root(".", "."), the trick pivot_root(2)
// documents: the old root ends up stacked on top of the new one at "/",
// from where it is detached. With NoPivot (for rootfs on ramfs/initramfs,
// where pivot_root is impossible) it moves the rootfs onto "/" and chroots,
// which leaves the old root reachable to a process with CAP_SYS_CHROOT.
func Pivot(o *Options) error {
	if o.top != nil {
		return pivotTop(o) // the rootfs came as a handle (rootfd.go)
	}
	rootfs, err := filepath.EvalSymlinks(o.Rootfs)
	if err != nil {
		return fmt.Errorf("rootfs %s: %w", o.Rootfs, err)
	}
	if o.NoPivot {
		return moveRoot(rootfs)
	}
	newRoot, err := unix.Open(rootfs, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open new root: %w", err)
	}
	defer unix.Close(newRoot)
	return pivotRoot(newRoot)
}

// pivotRoot makes the directory newRoot (the root of a mount) the root.
func pivotRoot(newRoot int) error {
	oldRoot, err := unix.Open("/", unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open old root: %w", err)
	}
	defer unix.Close(oldRoot)
	if err := unix.Fchdir(newRoot); err != nil {
		return fmt.Errorf("chdir to new root: %w", err)
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	// The old root is now mounted over "/"; step into it to detach it.
	if err := unix.Fchdir(oldRoot); err != nil {
		return fmt.Errorf("chdir to old root: %w", err)
	}
	// Make it a slave first so that the unmount cannot propagate to the
	// host, whatever rootfsPropagation made of it.
	if err := unix.Mount("", ".", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("make old root rslave: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detach old root: %w", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return fmt.Errorf("chdir /: %w", err)
	}
	return nil
}

// moveRoot is the --no-pivot path: MS_MOVE the rootfs onto "/" and chroot.
func moveRoot(rootfs string) error {
	if err := hideHostProcSys(rootfs); err != nil {
		return err
	}
	if err := unix.Chdir(rootfs); err != nil {
		return fmt.Errorf("chdir to rootfs: %w", err)
	}
	return moveCwdToRoot()
}

// moveCwdToRoot moves the mount whose root is the working directory onto
// "/" and chroots into it (switch_root's idiom).
func moveCwdToRoot() error {
	if err := unix.Mount(".", "/", "", unix.MS_MOVE, ""); err != nil {
		return fmt.Errorf("move rootfs to /: %w", err)
	}
	if err := unix.Chroot("."); err != nil {
		return fmt.Errorf("chroot: %w", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return fmt.Errorf("chdir /: %w", err)
	}
	return nil
}

// hideHostProcSys unmounts the host's procfs and sysfs mounts outside the
// rootfs, or covers them with a read-only tmpfs when they cannot be
// unmounted (locked in a user namespace). Without pivot_root they stay in
// the namespace, and a fully visible procfs anywhere in it lets the
// container mount a fresh, unmasked procfs (the kernel's mount_too_revealing
// check only looks for one) — the reason runc does the same.
func hideHostProcSys(rootfs string) error {
	mounts, err := mountinfo.GetMounts(mountinfo.FSTypeFilter("proc", "sysfs"))
	if err != nil {
		return fmt.Errorf("read mountinfo: %w", err)
	}
	all, err := mountinfo.GetMounts(nil)
	if err != nil {
		return fmt.Errorf("read mountinfo: %w", err)
	}
	byID := map[int]*mountinfo.Info{}
	for _, m := range all {
		byID[m.ID] = m
	}
	// Deepest first, so that no unmount is blocked by a child.
	sort.Slice(mounts, func(i, j int) bool { return len(mounts[i].Mountpoint) > len(mounts[j].Mountpoint) })
	for _, m := range mounts {
		if isUnder(m.Mountpoint, rootfs) {
			continue
		}
		// An unmount propagates to the peers of the parent mount; make the
		// parent a slave so the host keeps its /proc even when the
		// container asked for shared propagation.
		if p, ok := byID[m.Parent]; ok {
			if err := unix.Mount("", p.Mountpoint, "", unix.MS_SLAVE, ""); err != nil {
				return fmt.Errorf("make %s slave: %w", p.Mountpoint, err)
			}
		}
		if err := unix.Unmount(m.Mountpoint, unix.MNT_DETACH); err == nil {
			continue
		}
		if err := unix.Mount("tmpfs", m.Mountpoint, "tmpfs", unix.MS_RDONLY, "size=0"); err != nil {
			return fmt.Errorf("hide %s: %w", m.Mountpoint, err)
		}
	}
	return nil
}

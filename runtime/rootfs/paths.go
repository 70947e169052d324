package rootfs

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// These run after the switch of root: "/" is the container's rootfs, so a
// symlink can no longer lead outside it and plain paths are safe. Handles
// are still used so that each step acts on the inode it checked.

// openPath opens p with O_PATH, following symlinks (inside the new root).
func openPath(p string) (*os.File, error) {
	return os.OpenFile(p, unix.O_PATH|unix.O_CLOEXEC, 0)
}

// openNoFollow opens p with O_PATH and refuses a symlink as last component.
func openNoFollow(p string) (*os.File, error) {
	f, err := os.OpenFile(p, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		f.Close()
		return nil, err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		f.Close()
		return nil, fmt.Errorf("%s is a symlink", p)
	}
	return f, nil
}

// mountTarget names h through /proc/self/fd when the container has procfs
// at /proc, else falls back to the path itself (a container without /proc).
func mountTarget(h *os.File, p string) string {
	var st unix.Statfs_t
	if err := unix.Statfs("/proc/self/fd", &st); err == nil && st.Type == unix.PROC_SUPER_MAGIC {
		return fdPath(h)
	}
	return p
}

// readonlyPath makes p (and what is mounted below it) a read-only bind of
// itself; a missing path is skipped (runtime-spec: linux.readonlyPaths).
func readonlyPath(p string) error {
	h, err := openPath(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer h.Close()
	t := mountTarget(h, p)
	if err := unix.Mount(t, t, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind: %w", err)
	}
	top, err := openPath(p)
	if err != nil {
		return err
	}
	defer top.Close()
	return remountBindAt(top, mountTarget(top, p), &mountOpts{flags: unix.MS_RDONLY})
}

// maskPath hides p: /dev/null over a file, an empty read-only tmpfs over a
// directory; a missing path is skipped (runtime-spec: linux.maskedPaths).
func maskPath(p string) error {
	h, err := openPath(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer h.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(h.Fd()), &st); err != nil {
		return err
	}
	t := mountTarget(h, p)
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return unix.Mount("tmpfs", t, "tmpfs", unix.MS_RDONLY, "")
	}
	null, err := openNullDevice()
	if err != nil {
		return err
	}
	defer null.Close()
	return unix.Mount(mountTarget(null, "/dev/null"), t, "", unix.MS_BIND, "")
}

// openNullDevice returns a handle on the container's /dev/null after
// checking it is the null device, character 1:3. Were it a symlink or
// another file, binding "/dev/null" would bind that file over the masked
// path, readable and writable (CVE-2025-31133).
func openNullDevice() (*os.File, error) {
	f, err := os.OpenFile("/dev/null", unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open /dev/null: %w", err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		f.Close()
		return nil, fmt.Errorf("stat /dev/null: %w", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFCHR || unix.Major(st.Rdev) != 1 || unix.Minor(st.Rdev) != 3 {
		f.Close()
		return nil, fmt.Errorf("/dev/null is not the null device (mode %#o, device %d:%d); refusing to mask with it",
			st.Mode, unix.Major(st.Rdev), unix.Minor(st.Rdev))
	}
	return f, nil
}

// remountReadonly makes the mount at p read-only (root.readonly), keeping
// the flags the kernel may have locked on it.
func remountReadonly(p string) error {
	h, err := openPath(p)
	if err != nil {
		return err
	}
	defer h.Close()
	return remountBindAt(h, mountTarget(h, p), &mountOpts{flags: unix.MS_RDONLY})
}

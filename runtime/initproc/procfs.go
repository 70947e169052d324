package initproc

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// The init writes to procfs: sysctls, oom_score_adj, timens_offsets. A
// write that a mount redirects lands in whatever file is mounted there: a
// regular file faked by the image, or another procfs file such as
// /proc/sys/kernel/core_pattern bound over the one we meant
// (CVE-2019-16884, CVE-2019-19921, CVE-2025-52881). So every such write
// goes through procWrite, which
//   - starts from a handle on the root of a procfs mount (f_type
//     PROC_SUPER_MAGIC, and a mount root, so not a bind of some procfs
//     subdirectory),
//   - resolves the path with openat2(2) RESOLVE_NO_XDEV, which fails with
//     EXDEV when any component is a mount point (an overmount), and
//     RESOLVE_NO_MAGICLINKS | RESOLVE_BENEATH,
//   - checks again that the opened file is on procfs.

// procRoot is a verified handle on the root of a procfs mount.
type procRoot struct{ f *os.File }

func openProcRoot(path string) (*procRoot, error) {
	f, err := os.OpenFile(path, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if err := isProcfs(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var stx unix.Statx_t
	err = unix.Statx(int(f.Fd()), "", unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW, 0, &stx)
	if err == nil && stx.Attributes_mask&unix.STATX_ATTR_MOUNT_ROOT != 0 && stx.Attributes&unix.STATX_ATTR_MOUNT_ROOT == 0 {
		f.Close()
		return nil, fmt.Errorf("%s is not the root of a procfs mount", path)
	}
	return &procRoot{f: f}, nil
}

func (p *procRoot) Close() { p.f.Close() }

func isProcfs(f *os.File) error {
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(f.Fd()), &st); err != nil {
		return fmt.Errorf("statfs: %w", err)
	}
	if st.Type != unix.PROC_SUPER_MAGIC {
		return fmt.Errorf("not on procfs (f_type %#x)", st.Type)
	}
	return nil
}

// write writes data to rel (relative to the procfs root) in one write(2),
// as procfs files expect.
func (p *procRoot) write(rel string, data []byte) error {
	how := &unix.OpenHow{
		Flags:   unix.O_WRONLY | unix.O_NOFOLLOW | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_NO_XDEV | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_BENEATH,
	}
	fd, err := unix.Openat2(int(p.f.Fd()), rel, how)
	if errors.Is(err, unix.ENOSYS) {
		// Before Linux 5.6: no mount check possible; still refuse a
		// trailing symlink and a file that is not procfs.
		fd, err = unix.Openat(int(p.f.Fd()), rel, unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	}
	if errors.Is(err, unix.EXDEV) {
		return fmt.Errorf("/proc/%s has a mount on its path; refusing to write through it: %w", rel, err)
	}
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(fd), "/proc/"+rel)
	defer f.Close()
	if err := isProcfs(f); err != nil {
		return fmt.Errorf("/proc/%s: %w", rel, err)
	}
	_, err = f.Write(data)
	return err
}

// writeProc opens the procfs at /proc and writes one file.
func writeProc(rel string, data []byte) error {
	p, err := openProcRoot("/proc")
	if err != nil {
		return err
	}
	defer p.Close()
	return p.write(rel, data)
}

// onProcfs reports whether path is on procfs.
func onProcfs(path string) bool {
	var st unix.Statfs_t
	return unix.Statfs(path, &st) == nil && st.Type == unix.PROC_SUPER_MAGIC
}

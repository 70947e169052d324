package runtime

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// The container's init is gocker-init, executed from the host. While it
// runs, and whenever a container process gets the kernel to execute it
// again (a program whose interpreter is "#!/proc/self/exe"), /proc/PID/exe
// inside the container names the binary. If that is the host's file, a
// container process can keep an O_PATH handle on it and reopen it for
// writing once it is no longer being executed: the next container start on
// the host then runs the attacker's program (CVE-2019-5736). So the init is never executed from the
// host file itself but from a handle through which the file cannot be
// written, in order of cost:
//
//   - overlay: a detached, read-only overlayfs whose top lower layer is the
//     binary's directory. An overlay without an upper layer has nowhere to
//     write to, and it is not attached anywhere, so nothing in the container
//     can remount it. No copy: the page cache is the host file's. Needs
//     CAP_SYS_ADMIN and fsopen(2) (Linux 5.2); runc 1.2 does the same.
//   - memfd: a sealed memfd copy (F_SEAL_WRITE and friends). Works without
//     privileges but copies the 4.5 MB binary on every create and keeps the
//     copy in memory until the init execs the user program.
//
// robind (a detached read-only bind mount from open_tree(2)) is cheaper than
// overlay but only its mount flag stands between the attacker and the file,
// and mount flags can be cleared by whoever can reach the mount; it is kept
// for measurements (_GOCKER_SELFEXE=robind) only.

// envSelfExe forces one method ("overlay", "memfd", "robind"), for tests and
// benchmarks. Unset means overlay, then memfd.
const envSelfExe = "_GOCKER_SELFEXE"

// The program executed is the init alone (cmd/gocker-init), from gocker's
// own directory, in one of its two builds: gocker-init, pure Go, for a
// new container; gocker-nsenter, with cgo for the C constructor that
// joins user, mount and time namespaces before the Go runtime starts
// threads, when there is any joining to do (exec, namespaces by path).
// gocker itself is pure Go and cannot be the init.
const (
	initBinaryName    = "gocker-init"
	nsenterBinaryName = "gocker-nsenter"
)

// initBinary is the path of the init binary name beside the running gocker.
func initBinary(name string) (string, error) {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return "", err
	}
	// A replaced or deleted binary reads "... (deleted)"; its directory
	// may no longer hold the gocker-init of this build.
	if strings.HasSuffix(exe, " (deleted)") {
		return "", errors.New("the running binary was deleted")
	}
	p := filepath.Join(filepath.Dir(exe), name)
	fi, err := os.Stat(p)
	if err != nil || !fi.Mode().IsRegular() || fi.Mode()&0o111 == 0 {
		return "", fmt.Errorf("%s not found beside %s: gocker runs the container's init from it; install all of gocker's binaries (make install)", name, exe)
	}
	return p, nil
}

// sealedSelf returns an O_PATH (overlay, robind) or memfd handle on the
// init binary name through which it cannot be modified. scratch must
// be an existing directory gocker owns; overlay needs a second lower layer
// and the binary's directory, being the top layer, hides whatever it holds.
func sealedSelf(scratch, name string) (*os.File, error) {
	path, err := initBinary(name)
	if err != nil {
		return nil, err
	}
	return sealPath(scratch, path)
}

// sealPath is sealedSelf for the binary at path.
func sealPath(scratch, path string) (*os.File, error) {
	src := path
	switch m := os.Getenv(envSelfExe); m {
	case "overlay":
		return sealOverlay(scratch, path, src)
	case "memfd":
		return sealMemfd(src)
	case "robind":
		return sealRoBind(src)
	case "":
	default:
		return nil, fmt.Errorf("%s=%q: want overlay, memfd or robind", envSelfExe, m)
	}
	f, err := sealOverlay(scratch, path, src)
	if err == nil {
		return f, nil
	}
	logrus.Debugf("protect gocker binary: overlay: %v; falling back to a sealed memfd copy", err)
	return sealMemfd(src)
}

// sealOverlay opens the binary at path through a private read-only
// overlayfs; src is where sameBinary finds the original.
func sealOverlay(scratch, path, src string) (*os.File, error) {
	if scratch == "" {
		return nil, errors.New("no scratch directory for the second lower layer")
	}
	self := path
	ctx, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("fsopen overlay: %w", err)
	}
	defer unix.Close(ctx)
	// Two lower layers and no upper one: overlayfs's read-only "lower only"
	// mode. The binary's directory is on top so that scratch cannot shadow it.
	lower := escapeLowerdir(filepath.Dir(self)) + ":" + escapeLowerdir(scratch)
	if err := unix.FsconfigSetString(ctx, "lowerdir", lower); err != nil {
		return nil, fmt.Errorf("overlay lowerdir=%s: %w", lower, err)
	}
	// xino only matters for inode numbers; turning it off avoids kernel log
	// noise when the layers are on different filesystems.
	_ = unix.FsconfigSetString(ctx, "xino", "off")
	if err := unix.FsconfigCreate(ctx); err != nil {
		return nil, fmt.Errorf("create overlay: %w", err)
	}
	mnt, err := unix.Fsmount(ctx, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOSUID)
	if err != nil {
		return nil, fmt.Errorf("fsmount overlay: %w", err)
	}
	defer unix.Close(mnt)
	fd, err := unix.Openat(mnt, filepath.Base(self), unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s in overlay: %w", filepath.Base(self), err)
	}
	f := os.NewFile(uintptr(fd), "gocker-overlay")
	if err := sameBinary(f, src); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// escapeLowerdir escapes the separators of overlayfs's lowerdir option.
func escapeLowerdir(p string) string {
	return strings.ReplaceAll(strings.ReplaceAll(p, `\`, `\\`), `:`, `\:`)
}

// sameBinary checks that f (through overlayfs, which has its own device
// and inode numbers) still shows the attributes of the binary at src
// (gocker-init as found), so that a binary replaced on disk meanwhile is
// not what the init runs.
func sameBinary(f *os.File, src string) error {
	var a, b unix.Stat_t
	if err := unix.Stat(src, &a); err != nil {
		return err
	}
	if err := unix.Fstat(int(f.Fd()), &b); err != nil {
		return err
	}
	if a.Size != b.Size || a.Mtim != b.Mtim || a.Ctim != b.Ctim || b.Mode&unix.S_IFMT != unix.S_IFREG {
		return fmt.Errorf("%s changed on disk while it was being opened", src)
	}
	return nil
}

// sealMemfd copies the binary at path into a memfd and seals it against
// any change (memfd_create(2), "File sealing").
func sealMemfd(path string) (*os.File, error) {
	src, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	// MFD_EXEC states the intent; kernels before 6.3 do not know it.
	fd, err := unix.MemfdCreate("gocker-init", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING|unix.MFD_EXEC)
	if errors.Is(err, unix.EINVAL) {
		fd, err = unix.MemfdCreate("gocker-init", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	}
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	dst := os.NewFile(uintptr(fd), "gocker-memfd")
	// io.Copy uses sendfile(2)/copy_file_range(2) between the two files.
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return nil, fmt.Errorf("copy binary to memfd: %w", err)
	}
	seals := unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if _, err := unix.FcntlInt(dst.Fd(), unix.F_ADD_SEALS, seals); err != nil {
		dst.Close()
		return nil, fmt.Errorf("seal memfd: %w", err)
	}
	return dst, nil
}

// sealRoBind opens the binary on a detached read-only bind mount of it.
func sealRoBind(path string) (*os.File, error) {
	fd, err := unix.OpenTree(unix.AT_FDCWD, path, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("open_tree: %w", err)
	}
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NODEV | unix.MOUNT_ATTR_NOSUID}
	if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH, &attr); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("mount_setattr: %w", err)
	}
	return os.NewFile(uintptr(fd), "gocker-robind"), nil
}

// execPath names h for execve(2) in the child. os/exec moves the child's
// fds into place (ExtraFiles at 3.., its own pipes just above) before
// execve, so h is first duplicated above every number it could overwrite;
// close-on-exec drops it from the init once execve has opened the file.
func execPath(h *os.File, nfiles int) (string, *os.File, error) {
	fd, err := unix.FcntlInt(h.Fd(), unix.F_DUPFD_CLOEXEC, 2*nfiles+16)
	if err != nil {
		return "", nil, fmt.Errorf("dup gocker binary handle: %w", err)
	}
	return fmt.Sprintf("/proc/self/fd/%d", fd), os.NewFile(uintptr(fd), h.Name()), nil
}

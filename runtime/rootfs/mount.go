package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// mountEntry performs one element of the spec's "mounts" array. Its error
// reads "mount <source> to <destination>: <cause>".
func (s *setup) mountEntry(m specs.Mount) error {
	if err := s.doMount(m); err != nil {
		return fmt.Errorf("mount %s to %s: %w", m.Source, m.Destination, err)
	}
	return nil
}

func (s *setup) doMount(m specs.Mount) error {
	o, err := parseOptions(m.Options)
	if err != nil {
		return err
	}
	if o.idmap || len(m.UIDMappings) > 0 || len(m.GIDMappings) > 0 {
		// mountIndex sends these to idmappedBind (idmap.go).
		return errors.New("internal error: idmapped mount not handled as such")
	}
	if m.Destination == "" {
		return errors.New("empty destination")
	}
	// "bind" is no filesystem type: mount(2) would fail with ENODEV. Read
	// it as a plain (non-recursive) bind mount when no option says so.
	if m.Type == "bind" && !o.isBind() {
		o.flags |= unix.MS_BIND
	}
	// A cgroup filesystem shows the cgroup namespace of whoever mounts
	// it: the init must be in its cgroups and namespace first.
	if (m.Type == "cgroup" || m.Type == "cgroup2") && s.o.EnterCgroup != nil {
		if err := s.o.EnterCgroup(); err != nil {
			return err
		}
	}
	switch {
	case o.isBind():
		return s.bindMount(m, o)
	case m.Type == "cgroup":
		return s.mountCgroup(m, o)
	default:
		return s.fsMount(m, o)
	}
}

// fsMount mounts a filesystem of type m.Type (proc, sysfs, tmpfs, devpts,
// mqueue, overlay, anything else the kernel knows) on a directory.
func (s *setup) fsMount(m specs.Mount, o *mountOpts) error {
	if err := s.checkProcDest(nil, m, o); err != nil {
		return err
	}
	if m.Type == "proc" || m.Type == "sysfs" {
		if err := s.checkOrdinaryDir(m.Destination, m.Type); err != nil {
			return err
		}
	}
	h, err := s.dirHandle(m.Destination)
	if err != nil {
		return err
	}
	defer h.Close()
	if err := s.checkProcDest(h, m, o); err != nil {
		return err
	}
	if err := unix.Mount(m.Source, fdPath(h), m.Type, o.flags, withMountLabel(o.dataString(), m.Type, linuxOf(s.o.Spec).MountLabel)); err != nil {
		if m.Type == "sysfs" && errors.Is(err, unix.EPERM) {
			return s.bindHostSys(m, o, h)
		}
		return err
	}
	top, err := s.reopen(m.Destination)
	if err != nil {
		return err
	}
	defer top.Close()
	if err := verifyFsType(top, m.Type); err != nil {
		return err
	}
	return applyPostMount(top, o)
}

// bindMount binds m.Source (a host path; a relative one is taken relative
// to the init's working directory) onto the destination, a directory or a
// file depending on the source.
func (s *setup) bindMount(m specs.Mount, o *mountOpts) error {
	fi, err := os.Stat(m.Source)
	if err != nil {
		return err
	}
	if err := s.checkProcDest(nil, m, o); err != nil {
		return err
	}
	h, err := s.bindTarget(m, o, fi.IsDir())
	if err != nil {
		return err
	}
	defer h.Close()
	return bindOnto(m.Source, h, o, func() (*os.File, error) { return s.reopen(m.Destination) })
}

// bindOnto bind-mounts source onto the handle h, then applies the flags
// that the first MS_BIND call ignores. reopen returns a handle on the new
// mount (h still names the directory underneath it).
func bindOnto(source string, h *os.File, o *mountOpts, reopen func() (*os.File, error)) error {
	if err := unix.Mount(source, fdPath(h), "", unix.MS_BIND|o.flags&unix.MS_REC, ""); err != nil {
		return err
	}
	top, err := reopen()
	if err != nil {
		return err
	}
	defer top.Close()
	if o.needsBindRemount() {
		if err := remountBind(top, o); err != nil {
			return fmt.Errorf("remount: %w", err)
		}
	}
	return applyPostMount(top, o)
}

// remountBind changes the per-mount flags of the bind mount at top,
// repeating the flags the mount already has unless the options turn them
// off (see preservedFlags).
func remountBind(top *os.File, o *mountOpts) error {
	return remountBindAt(top, fdPath(top), o)
}

// remountBindAt is remountBind with an explicit mount(2) target naming the
// same mount as top.
func remountBindAt(top *os.File, target string, o *mountOpts) error {
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(top.Fd()), &st); err != nil {
		return fmt.Errorf("statfs: %w", err)
	}
	flags := o.flags&^(unix.MS_BIND|unix.MS_REC|unix.MS_REMOUNT) | preservedFlags(st.Flags, o)
	return unix.Mount("", target, "", unix.MS_REMOUNT|unix.MS_BIND|flags, "")
}

// applyPostMount applies propagation options and recursive attributes to
// the mount at top.
func applyPostMount(top *os.File, o *mountOpts) error {
	for _, p := range o.propagation {
		if err := unix.Mount("", fdPath(top), "", p, ""); err != nil {
			return fmt.Errorf("set propagation: %w", err)
		}
	}
	if o.hasRecursive() {
		attr := o.recAttr
		err := unix.MountSetattr(int(top.Fd()), "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &attr)
		if err != nil {
			return fmt.Errorf("mount_setattr: %w", err)
		}
	}
	return nil
}

// fsMagic is the statfs f_type a mount of these types must show. It
// catches a proc or sysfs mount that landed somewhere unexpected, or a
// destination that was already something else (CVE-2019-16884 and
// CVE-2019-19921 played tricks with such destinations).
var fsMagic = map[string]int64{
	"proc":  unix.PROC_SUPER_MAGIC,
	"sysfs": unix.SYSFS_MAGIC,
}

func verifyFsType(top *os.File, typ string) error {
	want, ok := fsMagic[typ]
	if !ok {
		return nil
	}
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(top.Fd()), &st); err != nil {
		return fmt.Errorf("statfs: %w", err)
	}
	if int64(st.Type) != want {
		return fmt.Errorf("destination is not %s after mounting (f_type %#x)", typ, st.Type)
	}
	return nil
}

// checkOrdinaryDir refuses to mount proc or sysfs on anything but a plain
// directory: an image could make the destination a symlink to a place it
// controls and have the runtime write through it later (CVE-2019-16884).
func (s *setup) checkOrdinaryDir(dest, typ string) error {
	parent, err := s.dirHandle(filepath.Dir(filepath.Clean("/" + dest)))
	if err != nil {
		return err
	}
	defer parent.Close()
	var st unix.Stat_t
	err = unix.Fstatat(int(parent.Fd()), filepath.Base(dest), &st, unix.AT_SYMLINK_NOFOLLOW)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return fmt.Errorf("filesystem %q must be mounted on an ordinary directory", typ)
	}
	return nil
}

// validProcMounts are the /proc entries that may be mounted over, e.g. by
// lxcfs. Anything else under /proc would let a container config hide or
// fake kernel interfaces the runtime relies on (same list as runc).
var validProcMounts = map[string]bool{
	"/proc/cpuinfo":   true,
	"/proc/diskstats": true,
	"/proc/meminfo":   true,
	"/proc/stat":      true,
	"/proc/swaps":     true,
	"/proc/uptime":    true,
	"/proc/loadavg":   true,
	"/proc/slabinfo":  true,
	"/proc/net/dev":   true,

	"/proc/sys/kernel/ns_last_pid": true,
}

// checkProcDest rejects mounts that resolve below /proc, unless the source
// is itself procfs or the entry is on the allowed list. It runs before the
// destination is created (on the lexically resolved path) and again on the
// handle that will be mounted on.
func (s *setup) checkProcDest(h *os.File, m specs.Mount, o *mountOpts) error {
	var dest string
	var err error
	if h == nil {
		dest, err = s.inRoot(m.Destination)
	} else {
		dest, err = s.containerPath(h)
	}
	if err != nil {
		return err
	}
	if dest == "/proc" {
		// Only procfs on /proc itself (runc's rule): the runtime and the
		// kernel interfaces it writes to must be the real ones
		// (CVE-2019-16884).
		if (!o.isBind() && m.Type == "proc") || (o.isBind() && isProcSource(m.Source)) {
			return nil
		}
		return fmt.Errorf("/proc cannot be mounted because %q (type %q) is not procfs", m.Source, m.Type)
	}
	if !strings.HasPrefix(dest, "/proc/") || validProcMounts[dest] {
		return nil
	}
	if o.isBind() && isProcSource(m.Source) {
		return nil
	}
	return fmt.Errorf("%s cannot be mounted because it is inside /proc", dest)
}

func isProcSource(src string) bool {
	var st unix.Statfs_t
	return unix.Statfs(src, &st) == nil && st.Type == unix.PROC_SUPER_MAGIC
}

// containerPath is where handle h (opened inside the rootfs) sits, seen
// from inside the container.
func (s *setup) containerPath(h *os.File) (string, error) {
	p, err := os.Readlink(fdPath(h))
	if err != nil {
		return "", err
	}
	if !isUnder(p, s.rootfs) {
		// Cannot happen with securejoin; refuse rather than guess.
		return "", fmt.Errorf("resolved %s outside the rootfs", p)
	}
	return filepath.Clean("/" + strings.TrimPrefix(p, s.rootfs)), nil
}

// dirHandle returns a handle on dest inside the rootfs, creating missing
// directories (mode 0755) on the way. SecureJoin first resolves dangling
// symlinks lexically inside the root (MkdirAllHandle refuses to create
// through them); MkdirAllHandle then walks and creates without ever leaving
// the root, even if the tree changes meanwhile.
func (s *setup) dirHandle(dest string) (*os.File, error) {
	// Fast path for a destination that exists: one openat2(2) confined
	// to the root (RESOLVE_IN_ROOT treats the rootfs as "/" for every
	// symlink and "..", so it cannot leave it either). The slower walk
	// below only runs when something has to be created.
	if h, err := s.openInRoot(dest, unix.O_DIRECTORY); err == nil {
		return h, nil
	}
	if h := s.mkdirLeaf(dest); h != nil {
		return h, nil
	}
	rel, err := s.inRoot(dest)
	if err != nil {
		return nil, err
	}
	h, err := pathrs.MkdirAllHandle(s.root, rel, 0o755)
	if err != nil {
		return nil, fmt.Errorf("create mount point: %w", err)
	}
	return h, nil
}

// mkdirLeaf is the next fast path, for a destination of which only the
// last component is missing (/dev/pts on a fresh /dev tmpfs, the usual
// case): the parent is opened confined to the root like above, the leaf
// made by mkdirat(2) in that very directory, and opened with no symlink
// allowed, so a swap of the new directory for a symlink makes the open
// fail instead of leading out. Anything else (a deeper missing path, a
// dangling symlink at the leaf) returns nil for the full walk.
func (s *setup) mkdirLeaf(dest string) *os.File {
	dest = filepath.Clean("/" + dest)
	name := filepath.Base(dest)
	if dest == "/" || name == ".." {
		return nil
	}
	parent, err := s.openInRoot(filepath.Dir(dest), unix.O_DIRECTORY)
	if err != nil {
		return nil
	}
	defer parent.Close()
	if unix.Mkdirat(int(parent.Fd()), name, 0o755) != nil {
		return nil
	}
	fd, err := unix.Openat2(int(parent.Fd()), name, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_CLOEXEC | unix.O_DIRECTORY | unix.O_NOFOLLOW,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return nil
	}
	return os.NewFile(uintptr(fd), dest)
}

// inRoot resolves dest inside the rootfs and returns it as an absolute
// container path free of symlinks.
//
// The walk starts from the handle on the rootfs (/proc/self/fd/N), not
// from its path: the init may not be allowed to search the directories
// above the rootfs (see rootfd.go).
func (s *setup) inRoot(dest string) (string, error) {
	base := fdPath(s.root)
	joined, err := securejoin.SecureJoin(base, dest)
	if err != nil {
		return "", fmt.Errorf("resolve %s: %w", dest, err)
	}
	return filepath.Clean("/" + strings.TrimPrefix(joined, base)), nil
}

// fileHandle returns an O_PATH handle on dest inside the rootfs, creating
// an empty file there (and its parent directories) when it is missing, so
// that a file can be bind-mounted on it.
func (s *setup) fileHandle(dest string) (*os.File, error) {
	h, err := s.openInRoot(dest, 0)
	if err == nil {
		return h, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("open mount point: %w", err)
	}
	// A dangling symlink is resolved inside the root, so we create the
	// file it points to, never one outside.
	rel, err := s.inRoot(dest)
	if err != nil {
		return nil, err
	}
	parent, err := s.dirHandle(filepath.Dir(rel))
	if err != nil {
		return nil, err
	}
	defer parent.Close()
	fd, err := unix.Openat(int(parent.Fd()), filepath.Base(rel),
		unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_WRONLY|unix.O_CLOEXEC, 0o644)
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return nil, fmt.Errorf("create mount point: %w", err)
	}
	if err == nil {
		unix.Close(fd)
	}
	return s.reopen(rel)
}

// bindTarget opens (creating it if needed) the mount point of bind mount m
// inside the rootfs: a directory for a directory source, else a file; and
// refuses a target in /proc that must not be mounted over.
func (s *setup) bindTarget(m specs.Mount, o *mountOpts, dir bool) (*os.File, error) {
	var h *os.File
	var err error
	if dir {
		h, err = s.dirHandle(m.Destination)
	} else {
		h, err = s.fileHandle(m.Destination)
	}
	if err != nil {
		return nil, err
	}
	if err := s.checkProcDest(h, m, o); err != nil {
		h.Close()
		return nil, err
	}
	return h, nil
}

// openInRoot opens an O_PATH handle on dest with a single openat2(2)
// confined to the rootfs: RESOLVE_IN_ROOT resolves every symlink and ".."
// as if the rootfs were "/", so the result cannot be outside it, and
// RESOLVE_NO_MAGICLINKS refuses /proc/*/fd-style jumps. This is the
// guarantee securejoin's OpenatInRoot gives, without its extra
// verification round trips through procfs on the container start path.
func (s *setup) openInRoot(dest string, flags int) (*os.File, error) {
	fd, err := unix.Openat2(int(s.root.Fd()), dest, &unix.OpenHow{
		Flags:   uint64(unix.O_PATH | unix.O_CLOEXEC | flags),
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return nil, &os.PathError{Op: "openat2", Path: dest, Err: err}
	}
	return os.NewFile(uintptr(fd), dest), nil
}

// reopen resolves dest again inside the rootfs, which after a mount yields
// the root of the new mount.
func (s *setup) reopen(dest string) (*os.File, error) {
	h, err := s.openInRoot(dest, 0)
	if err != nil {
		return nil, fmt.Errorf("open mount point: %w", err)
	}
	return h, nil
}

// selinuxOn reports whether SELinux is enabled (selinuxfs is mounted).
var selinuxOn = func() bool {
	_, err := os.Stat("/sys/fs/selinux/enforce")
	return err == nil
}

// withMountLabel adds linux.mountLabel as the context= option of the
// filesystems the container gets fresh (tmpfs, devpts, mqueue), as runc's
// label.FormatMountLabel does, when SELinux is on; otherwise, as in runc,
// the label is ignored. Bind mounts keep their source's labels.
func withMountLabel(data, fstype, label string) string {
	if label == "" || !selinuxOn() {
		return data
	}
	switch fstype {
	case "tmpfs", "devpts", "mqueue", "shm":
	default:
		return data
	}
	opt := `context="` + label + `"`
	if data == "" {
		return opt
	}
	return data + "," + opt
}

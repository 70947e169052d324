package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func u32(v uint32) *uint32 { return &v }

func mode(m os.FileMode) *os.FileMode { return &m }

// defaultDevices must exist in every container (runtime-spec config-linux.md,
// "Default Devices"). /dev/console and /dev/ptmx are handled on their own.
var defaultDevices = []specs.LinuxDevice{
	{Path: "/dev/null", Type: "c", Major: 1, Minor: 3, FileMode: mode(0o666), UID: u32(0), GID: u32(0)},
	{Path: "/dev/zero", Type: "c", Major: 1, Minor: 5, FileMode: mode(0o666), UID: u32(0), GID: u32(0)},
	{Path: "/dev/full", Type: "c", Major: 1, Minor: 7, FileMode: mode(0o666), UID: u32(0), GID: u32(0)},
	{Path: "/dev/random", Type: "c", Major: 1, Minor: 8, FileMode: mode(0o666), UID: u32(0), GID: u32(0)},
	{Path: "/dev/urandom", Type: "c", Major: 1, Minor: 9, FileMode: mode(0o666), UID: u32(0), GID: u32(0)},
	{Path: "/dev/tty", Type: "c", Major: 5, Minor: 0, FileMode: mode(0o666), UID: u32(0), GID: u32(0)},
}

// needsDev follows runc: /dev content is created unless /dev is a bind
// mount, whose content belongs to whoever bound it.
func needsDev(spec *specs.Spec) bool {
	for _, m := range spec.Mounts {
		if filepath.Clean(m.Destination) != "/dev" {
			continue
		}
		o, err := parseOptions(m.Options)
		if m.Type == "bind" || (err == nil && o.isBind()) {
			return false
		}
	}
	return true
}

// devices is the default set with the spec's linux.devices added; a spec
// entry replaces a default with the same path.
func devices(spec *specs.Spec) []specs.LinuxDevice {
	l := linuxOf(spec)
	byPath := map[string]bool{}
	for _, d := range l.Devices {
		byPath[filepath.Clean(d.Path)] = true
	}
	var all []specs.LinuxDevice
	for _, d := range defaultDevices {
		if !byPath[d.Path] {
			all = append(all, d)
		}
	}
	return append(all, l.Devices...)
}

func (s *setup) createDev() error {
	for _, d := range devices(s.o.Spec) {
		if err := s.createDevice(d); err != nil {
			return fmt.Errorf("device %s: %w", d.Path, err)
		}
	}
	if err := s.devSymlinks(); err != nil {
		return err
	}
	return s.setupPtmx()
}

// deviceType maps the spec's device type letter to the S_IFMT bits.
func deviceType(t string) (uint32, error) {
	switch t {
	case "c", "u":
		return unix.S_IFCHR, nil
	case "b":
		return unix.S_IFBLK, nil
	case "p":
		return unix.S_IFIFO, nil
	}
	return 0, fmt.Errorf("unknown device type %q", t)
}

// createDevice makes the node with mknod(2). In a user namespace mknod of
// a device fails with EPERM (only the initial namespace may create device
// nodes), so like runc we bind-mount the host's node onto an empty file.
func (s *setup) createDevice(d specs.LinuxDevice) error {
	typ, err := deviceType(d.Type)
	if err != nil {
		return err
	}
	path := filepath.Clean("/" + d.Path)
	parent, err := s.dirHandle(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer parent.Close()
	pfd, name := int(parent.Fd()), filepath.Base(path)
	perm := uint32(0o666)
	if d.FileMode != nil {
		perm = uint32(*d.FileMode) & 0o7777
	}
	rdev := unix.Mkdev(uint32(d.Major), uint32(d.Minor))
	err = unix.Mknodat(pfd, name, typ|perm, int(rdev))
	switch {
	case errors.Is(err, unix.EEXIST):
		return nil // keep what the image or an earlier mount put there
	case errors.Is(err, unix.EPERM):
		return bindHostDevice(parent, name, path, typ, rdev)
	case err != nil:
		return fmt.Errorf("mknod: %w", err)
	}
	// mknod(2) applies the umask; the spec's fileMode is exact.
	if err := unix.Fchmodat(pfd, name, perm, 0); err != nil {
		return fmt.Errorf("chmod: %w", err)
	}
	uid, gid := 0, 0
	if d.UID != nil {
		uid = int(*d.UID)
	}
	if d.GID != nil {
		gid = int(*d.GID)
	}
	if err := unix.Fchownat(pfd, name, uid, gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("chown: %w", err)
	}
	return nil
}

// bindHostDevice bind-mounts the host's node at the same path, after
// checking it is the device the spec asks for.
func bindHostDevice(parent *os.File, name, path string, typ uint32, rdev uint64) error {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return fmt.Errorf("mknod not permitted and no host device to bind: %w", err)
	}
	if st.Mode&unix.S_IFMT != typ || (typ != unix.S_IFIFO && st.Rdev != rdev) {
		return fmt.Errorf("mknod not permitted and host %s is not device %d:%d",
			path, unix.Major(rdev), unix.Minor(rdev))
	}
	pfd := int(parent.Fd())
	fd, err := unix.Openat(pfd, name, unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_WRONLY|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return fmt.Errorf("create bind target: %w", err)
	}
	unix.Close(fd)
	fd, err = unix.Openat(pfd, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open bind target: %w", err)
	}
	target := os.NewFile(uintptr(fd), name)
	defer target.Close()
	if err := unix.Mount(path, fdPath(target), "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind host device: %w", err)
	}
	return nil
}

// devSymlinks creates the links the runtime-spec lists under "Default
// Filesystems" and that programs expect (/dev/fd, /dev/std*), and
// /dev/core like runc when the kernel has /proc/kcore.
func (s *setup) devSymlinks() error {
	links := [][2]string{
		{"/proc/self/fd", "fd"},
		{"/proc/self/fd/0", "stdin"},
		{"/proc/self/fd/1", "stdout"},
		{"/proc/self/fd/2", "stderr"},
	}
	if _, err := os.Stat("/proc/kcore"); err == nil {
		links = append(links, [2]string{"/proc/kcore", "core"})
	}
	dev, err := s.dirHandle("/dev")
	if err != nil {
		return err
	}
	defer dev.Close()
	for _, l := range links {
		err := unix.Symlinkat(l[0], int(dev.Fd()), l[1])
		if err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("symlink /dev/%s -> %s: %w", l[1], l[0], err)
		}
	}
	return nil
}

// setupPtmx makes /dev/ptmx a link to the container's own devpts instance
// (runtime-spec config-linux.md: /dev/ptmx is "a bind-mount or symlink of
// the container's /dev/pts/ptmx"); the host's ptmx would open host ptys.
func (s *setup) setupPtmx() error {
	pts, err := s.reopen("/dev/pts")
	if err != nil {
		return nil // no /dev/pts at all: nothing to point to
	}
	defer pts.Close()
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(pts.Fd()), &st); err != nil || st.Type != unix.DEVPTS_SUPER_MAGIC {
		return nil
	}
	dev, err := s.reopen("/dev")
	if err != nil {
		return err
	}
	defer dev.Close()
	err = unix.Unlinkat(int(dev.Fd()), "ptmx", 0)
	if err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("remove /dev/ptmx: %w", err)
	}
	if err := unix.Symlinkat("pts/ptmx", int(dev.Fd()), "ptmx"); err != nil {
		return fmt.Errorf("symlink /dev/ptmx: %w", err)
	}
	return nil
}

// SetupConsole bind-mounts the pty slave at slavePath onto /dev/console.
// It runs after the switch of root; /dev/console is created as an empty
// file (mode 0666, as runc does) when missing.
func SetupConsole(slavePath string) error {
	fd, err := unix.Open("/dev/console", unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_WRONLY|unix.O_CLOEXEC, 0o666)
	switch {
	case err == nil:
		err = unix.Fchmod(fd, 0o666)
		unix.Close(fd)
		if err != nil {
			return fmt.Errorf("chmod /dev/console: %w", err)
		}
	case !errors.Is(err, unix.EEXIST):
		return fmt.Errorf("create /dev/console: %w", err)
	}
	h, err := openNoFollow("/dev/console")
	if err != nil {
		return fmt.Errorf("open /dev/console: %w", err)
	}
	defer h.Close()
	if err := unix.Mount(slavePath, mountTarget(h, "/dev/console"), "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("mount %s to /dev/console: %w", slavePath, err)
	}
	return nil
}

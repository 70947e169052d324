package runtime

// Rootless mode: gocker run by an unprivileged user (runc's "rootless
// containers"). Such a user can still make every namespace, as long as a
// new user namespace comes with them (user_namespaces(7)), but:
//
//   - it may map only its own uid and gid, one id each, and only after
//     /proc/PID/setgroups says "deny" (the kernel's rule for a writer
//     without CAP_SETUID/CAP_SETGID in the parent namespace); gocker does
//     not call the newuidmap/newgidmap helpers;
//   - it cannot create cgroups unless one was delegated to it: without
//     limits and without cgroupsPath the container runs in the caller's
//     cgroup, as runc does (cgroups.Options.Rootless);
//   - its state lives under $XDG_RUNTIME_DIR/gocker, not /run/gocker.
//
// The other half of this file serves any container with a new user
// namespace: its init runs as a uid that may not search the directories
// above the bundle, so the parent hands it the rootfs, opened with the
// parent's credentials (openRootfsIn).

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/gocker/gocker/runtime/cgroups"
)

// DefaultRootDir is --root for root in the initial user namespace.
const DefaultRootDir = "/run/gocker"

// UseRootless resolves the --rootless flag as runc does: "true" and
// "false" are taken as given; "auto" means rootless when the effective uid
// is not 0, or when we are root in a user namespace other than the
// initial one (where cgroups are usually not ours either).
func UseRootless(flag string) (bool, error) {
	switch flag {
	case "true":
		return true, nil
	case "false":
		return false, nil
	case "auto", "":
		return os.Geteuid() != 0 || RunningInUserNS(), nil
	}
	return false, fmt.Errorf("--rootless: invalid value %q (want true, false or auto)", flag)
}

// RunningInUserNS reports whether this process is in a user namespace other
// than the initial one, whose uid_map is the identity map of all 2^32-1 ids
// (user_namespaces(7), "The initial user namespace").
func RunningInUserNS() bool {
	data, err := os.ReadFile("/proc/self/uid_map")
	if err != nil {
		return false
	}
	f := strings.Fields(string(data))
	return !(len(f) == 3 && f[0] == "0" && f[1] == "0" && f[2] == "4294967295")
}

// DefaultRoot is --root when the flag is not given. Like runc, an
// unprivileged user (or root in a user namespace whose USER is not root)
// keeps its state under $XDG_RUNTIME_DIR, the per-user runtime directory
// that only it can write; /run/gocker is root's.
func DefaultRoot() (string, error) {
	xdg := os.Getenv("XDG_RUNTIME_DIR")
	honor := os.Geteuid() != 0
	if !honor && RunningInUserNS() {
		u, ok := os.LookupEnv("USER")
		honor = !ok || u != "root"
	}
	if !honor {
		return DefaultRootDir, nil
	}
	if xdg == "" {
		if os.Geteuid() != 0 {
			return "", fmt.Errorf("rootless: XDG_RUNTIME_DIR is not set, so there is no default state directory for uid %d; set XDG_RUNTIME_DIR or give --root", os.Geteuid())
		}
		return DefaultRootDir, nil
	}
	if !filepath.IsAbs(xdg) {
		return "", fmt.Errorf("rootless: XDG_RUNTIME_DIR=%q is not an absolute path; give --root", xdg)
	}
	return filepath.Join(xdg, "gocker"), nil
}

// unprivileged reports whether gocker runs without root's effective uid,
// runc's "rootless EUID": only its own ids can be mapped, with setgroups
// denied.
func unprivileged() bool { return os.Geteuid() != 0 }

// checkRootless refuses, before anything is created, a config that an
// unprivileged user cannot run, naming the field. Everything else is left
// to the kernel.
func checkRootless(s *specs.Spec) error {
	if !unprivileged() {
		return nil
	}
	return checkRootlessAs(s, uint32(os.Geteuid()), uint32(os.Getegid()))
}

// checkRootlessAs is checkRootless for a caller with effective ids uid and
// gid.
func checkRootlessAs(s *specs.Spec, uid, gid uint32) error {
	var newUser, joinUser bool
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == specs.UserNamespace {
			newUser, joinUser = ns.Path == "", ns.Path != ""
		}
	}
	if !newUser && !joinUser {
		return fmt.Errorf("rootless: linux.namespaces has no user namespace; an unprivileged user (uid %d) can only run containers in one (`gocker spec --rootless` writes such a config)", uid)
	}
	if newUser {
		if err := checkOwnMapping("uidMappings", s.Linux.UIDMappings, uid, "uid"); err != nil {
			return err
		}
		if err := checkOwnMapping("gidMappings", s.Linux.GIDMappings, gid, "gid"); err != nil {
			return err
		}
		if err := checkMappedUser(s); err != nil {
			return err
		}
		if err := checkMountIDs(s); err != nil {
			return err
		}
	}
	if s.Process != nil && len(s.Process.User.AdditionalGids) > 0 {
		// setgroups(2) is denied in the namespace, or the gid map could not
		// have been written (user_namespaces(7), /proc/PID/setgroups).
		return fmt.Errorf("rootless: process.user.additionalGids %v: a rootless container cannot set additional groups (setgroups is denied in its user namespace)", s.Process.User.AdditionalGids)
	}
	return nil
}

// checkOwnMapping enforces the kernel's rule for a writer without
// CAP_SETUID (CAP_SETGID) over the parent namespace: a single line mapping
// its own effective id, of size 1 (user_namespaces(7), "Defining user and
// group ID mappings").
func checkOwnMapping(field string, m []specs.LinuxIDMapping, own uint32, what string) error {
	if len(m) == 0 {
		return fmt.Errorf("rootless: linux.%s is empty; a rootless container needs a mapping of your %s %d (e.g. {\"containerID\": 0, \"hostID\": %d, \"size\": 1})", field, what, own, own)
	}
	if len(m) == 1 && m[0].HostID == own && m[0].Size == 1 {
		return nil
	}
	return fmt.Errorf("rootless: linux.%s %s maps host %ss other than your own %s %d; an unprivileged user can map only that one id (gocker does not use newuidmap/newgidmap)", field, formatMappings(m), what, what, own)
}

func formatMappings(m []specs.LinuxIDMapping) string {
	parts := make([]string, len(m))
	for i, x := range m {
		parts[i] = fmt.Sprintf("%d:%d:%d", x.ContainerID, x.HostID, x.Size)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// checkMappedUser: with a single id mapped, the process can only be that
// id; setresuid(2) to an unmapped id fails with EINVAL.
func checkMappedUser(s *specs.Spec) error {
	if s.Process == nil {
		return nil
	}
	u := s.Process.User
	if !mapped(s.Linux.UIDMappings, u.UID) {
		return fmt.Errorf("rootless: process.user.uid %d is not mapped in the user namespace (linux.uidMappings %s)", u.UID, formatMappings(s.Linux.UIDMappings))
	}
	if !mapped(s.Linux.GIDMappings, u.GID) {
		return fmt.Errorf("rootless: process.user.gid %d is not mapped in the user namespace (linux.gidMappings %s)", u.GID, formatMappings(s.Linux.GIDMappings))
	}
	return nil
}

// checkMountIDs refuses uid=/gid= mount options naming unmapped ids (the
// default devpts gid=5, for one), as runc does: the kernel's EINVAL would
// not say which mount failed.
func checkMountIDs(s *specs.Spec) error {
	for _, m := range s.Mounts {
		for _, o := range m.Options {
			key, val, ok := strings.Cut(o, "=")
			if !ok || (key != "uid" && key != "gid") {
				continue
			}
			id, err := strconv.ParseUint(val, 10, 32)
			if err != nil {
				continue // not ours to judge; the filesystem will
			}
			maps := s.Linux.UIDMappings
			if key == "gid" {
				maps = s.Linux.GIDMappings
			}
			if !mapped(maps, uint32(id)) {
				return fmt.Errorf("rootless: mount %s: option %s names a %s that is not mapped in the user namespace; drop it (`gocker spec --rootless` does)", m.Destination, o, key)
			}
		}
	}
	return nil
}

func mapped(m []specs.LinuxIDMapping, id uint32) bool {
	for _, x := range m {
		if id >= x.ContainerID && uint64(id) < uint64(x.ContainerID)+uint64(x.Size) {
			return true
		}
	}
	return false
}

// rootlessCgroupError explains a cgroup the caller may not create: runc's
// rule lets a rootless container without limits and without cgroupsPath
// run in the caller's cgroup, so this only fires when the config asked for
// one.
func rootlessCgroupError(o Options, s *specs.Spec, err error) error {
	if !o.Rootless || !errors.Is(err, os.ErrPermission) {
		return err
	}
	why := "linux.resources sets limits"
	if s.Linux.CgroupsPath != "" {
		why = fmt.Sprintf("linux.cgroupsPath is %q", s.Linux.CgroupsPath)
	}
	return fmt.Errorf("rootless: %s, but uid %d may not create the container's cgroup: %w; "+
		"run it in a cgroup delegated to you (cgroup v2, e.g. systemd's Delegate=yes) or drop them", why, os.Geteuid(), err)
}

// noCgroup reports whether Create left the container without a cgroup of
// its own: a rootless container whose cgroup could not be created runs in
// the caller's (see cgroups.Options.Rootless). The manager then neither
// made nor found one.
func noCgroup(m *cgroups.Manager) bool { return !m.Created() && !m.Exists() }

// openRootfsIn opens the rootfs directory inside the new mount namespace of
// the init pid, with our credentials, for the init to build its root on.
//
// The init of a container with a new user namespace is, on the host, the
// uid that container root maps to. It may not search the directories above
// the bundle (a bundle in a 0700 root-owned directory, as containerd and
// podman make them), and it has no capability over their owner, who is not
// mapped in its namespace. The parent still may. But a handle opened before
// the clone would name the parent's mount, which mount(2) refuses to bind
// from or onto in another namespace (EINVAL), so the path is resolved in
// the init's own mount namespace through /proc/PID/root: the magic link
// leads into that namespace while the search permission checks are ours
// (proc(5), /proc/pid/root). Opening it needs ptrace read access to the
// init, which we have: we own its user namespace.
//
// It returns nil when the init has no mount namespace made at clone: one
// joined or unshared later by the C constructor may not be in place yet,
// and then the init resolves the path itself, as it does without a user
// namespace.
func openRootfsIn(pid int, plan *nsPlan, rootfs string) (*os.File, error) {
	if !plan.userNS || plan.clone&unix.CLONE_NEWNS == 0 {
		return nil, nil
	}
	root, err := unix.Open(filepath.Join("/proc", strconv.Itoa(pid), "root"), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open the container's root: %w", err)
	}
	defer unix.Close(root)
	// RESOLVE_IN_ROOT: symlinks on the way resolve as the init would see
	// them. A plain walk would resolve an absolute one against our root,
	// leaving the init's namespace.
	fd, err := unix.Openat2(root, rootfs, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return nil, fmt.Errorf("open rootfs %s in the container's mount namespace: %w", rootfs, err)
	}
	return os.NewFile(uintptr(fd), "rootfs"), nil
}

// fdOf is f's descriptor for proto.Conn.Send, -1 for none.
func fdOf(f *os.File) int {
	if f == nil {
		return -1
	}
	return int(f.Fd())
}

// joinCgroup moves the init into the container's cgroup, if it has one.
func (cr *creation) joinCgroup(pid int) error {
	if !cr.cg.Created() && noCgroup(cr.cg) {
		return nil
	}
	return cr.cg.AddPid(pid, nil)
}

// cgroupPaths are the container's cgroup directories for the init's
// cgroup mount; none without a cgroup, so that it shows the caller's.
func (cr *creation) cgroupPaths() map[string]string {
	if !cr.cg.Created() && noCgroup(cr.cg) {
		return nil
	}
	return cr.cg.Paths()
}

package spec

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// checkLinux validates the "linux" object (runtime-spec config-linux.md) and
// the top-level fields that only make sense with a Linux namespace.
func checkLinux(s *specs.Spec, bundle string) error {
	if err := checkNames(s); err != nil {
		return err
	}
	l := s.Linux
	if l == nil {
		return nil
	}
	checks := []func() error{
		func() error { return checkNamespaces(l.Namespaces) },
		func() error { return checkUserNS(l) },
		func() error { return checkDevices(l.Devices) },
		func() error { return checkDeviceRules(l.Resources) },
		func() error { return checkSysctl(l, bundle) },
		func() error { return checkTimeOffsets(l) },
		func() error { return checkPathLists(l) },
		func() error { return checkPropagation(l.RootfsPropagation) },
	}
	for _, c := range checks {
		if err := c(); err != nil {
			return err
		}
	}
	return nil
}

func namespaceIndex(s *specs.Spec, t specs.LinuxNamespaceType) int {
	if s.Linux == nil {
		return -1
	}
	for i, ns := range s.Linux.Namespaces {
		if ns.Type == t {
			return i
		}
	}
	return -1
}

// checkNames: sethostname(2) on the host's UTS namespace would rename the
// host; runtime-spec config.md says the runtime MUST error in that case
// (runc: "unable to set hostname without a private UTS namespace").
func checkNames(s *specs.Spec) error {
	if namespaceIndex(s, specs.UTSNamespace) >= 0 {
		return nil
	}
	if s.Hostname != "" {
		return fieldErr("hostname", "needs a uts namespace in linux.namespaces")
	}
	if s.Domainname != "" {
		return fieldErr("domainname", "needs a uts namespace in linux.namespaces")
	}
	return nil
}

var namespaceTypes = map[specs.LinuxNamespaceType]bool{
	specs.PIDNamespace: true, specs.NetworkNamespace: true, specs.MountNamespace: true,
	specs.IPCNamespace: true, specs.UTSNamespace: true, specs.UserNamespace: true,
	specs.CgroupNamespace: true, specs.TimeNamespace: true,
}

// checkNamespaces: config-linux.md "Namespaces": an unknown type or a type
// listed twice MUST be an error; path, if set, names a namespace file.
func checkNamespaces(nss []specs.LinuxNamespace) error {
	seen := map[specs.LinuxNamespaceType]int{}
	for i, ns := range nss {
		field := joinIndex("linux.namespaces", i)
		if !namespaceTypes[ns.Type] {
			return fieldErr(field+".type", "unknown namespace type %q", ns.Type)
		}
		if j, dup := seen[ns.Type]; dup {
			return fieldErr(field, "duplicate %q namespace (also at %s)", ns.Type, joinIndex("linux.namespaces", j))
		}
		seen[ns.Type] = i
		if ns.Path != "" && !filepath.IsAbs(ns.Path) {
			return fieldErr(field+".path", "must be an absolute path, got %q", ns.Path)
		}
	}
	return nil
}

// maxIDMappings is the number of lines /proc/PID/uid_map accepts since
// Linux 4.15 (user_namespaces(7)).
const maxIDMappings = 340

func checkUserNS(l *specs.Linux) error {
	ui := -1
	for i, ns := range l.Namespaces {
		if ns.Type == specs.UserNamespace {
			ui = i
		}
	}
	if ui < 0 {
		if len(l.UIDMappings) > 0 {
			return fieldErr("linux.uidMappings", "mappings need a user namespace")
		}
		if len(l.GIDMappings) > 0 {
			return fieldErr("linux.gidMappings", "mappings need a user namespace")
		}
		return nil
	}
	// A new user namespace without maps leaves every id unmapped (nobody),
	// and setgid/setuid in the init would fail; runc rejects it as well.
	if l.Namespaces[ui].Path == "" && (len(l.UIDMappings) == 0 || len(l.GIDMappings) == 0) {
		return fieldErr(joinIndex("linux.namespaces", ui), "a new user namespace needs linux.uidMappings and linux.gidMappings")
	}
	if err := checkMappings("linux.uidMappings", l.UIDMappings); err != nil {
		return err
	}
	return checkMappings("linux.gidMappings", l.GIDMappings)
}

// checkMappings applies the kernel's rules for uid_map/gid_map
// (user_namespaces(7)): non-zero lengths, no wrap-around, and no two lines
// whose ranges overlap on either side.
func checkMappings(field string, ms []specs.LinuxIDMapping) error {
	if len(ms) > maxIDMappings {
		return fieldErr(field, "%d mappings, the kernel accepts at most %d", len(ms), maxIDMappings)
	}
	for i, m := range ms {
		f := joinIndex(field, i)
		if m.Size == 0 {
			return fieldErr(f+".size", "must be greater than zero")
		}
		if uint64(m.ContainerID)+uint64(m.Size) > 1<<32 || uint64(m.HostID)+uint64(m.Size) > 1<<32 {
			return fieldErr(f, "range of size %d overflows 32-bit ids", m.Size)
		}
		for j := 0; j < i; j++ {
			o := ms[j]
			if overlaps(m.ContainerID, o.ContainerID, m.Size, o.Size) {
				return fieldErr(f, "containerID range %s overlaps %s", idRange(m.ContainerID, m.Size), joinIndex(field, j))
			}
			if overlaps(m.HostID, o.HostID, m.Size, o.Size) {
				return fieldErr(f, "hostID range %s overlaps %s", idRange(m.HostID, m.Size), joinIndex(field, j))
			}
		}
	}
	return nil
}

func overlaps(a, b, sa, sb uint32) bool {
	return uint64(a) < uint64(b)+uint64(sb) && uint64(b) < uint64(a)+uint64(sa)
}

func idRange(start, size uint32) string {
	return fmt.Sprintf("%d-%d", start, uint64(start)+uint64(size)-1)
}

// checkDevices: config-linux.md "Devices": type is c, b, u or p; path is the
// full path inside the container. (Missing major/minor are caught on the raw
// JSON by checkRawDevices, since 0 is a valid number.)
func checkDevices(ds []specs.LinuxDevice) error {
	for i, d := range ds {
		field := joinIndex("linux.devices", i)
		switch d.Type {
		case "c", "b", "u", "p":
		default:
			return fieldErr(field+".type", "must be one of c, b, u, p, got %q", d.Type)
		}
		if !filepath.IsAbs(d.Path) {
			return fieldErr(field+".path", "must be an absolute path, got %q", d.Path)
		}
		if d.Major < 0 || d.Minor < 0 {
			return fieldErr(field, "major and minor must not be negative")
		}
	}
	return nil
}

// checkDeviceRules: config-linux.md "Allowed Device List": type a, b or c
// (empty means all), access a combination of r, w, m.
func checkDeviceRules(r *specs.LinuxResources) error {
	if r == nil {
		return nil
	}
	for i, d := range r.Devices {
		field := joinIndex("linux.resources.devices", i)
		switch d.Type {
		case "", "a", "b", "c":
		default:
			return fieldErr(field+".type", "must be one of a, b, c, got %q", d.Type)
		}
		if strings.Trim(d.Access, "rwm") != "" {
			return fieldErr(field+".access", "must be made of r, w and m, got %q", d.Access)
		}
	}
	return nil
}

// ipcSysctls are the kernel.* sysctls that belong to the IPC namespace
// (ipc_namespaces(7)); fs.mqueue.* does as well.
var ipcSysctls = map[string]bool{
	"kernel.msgmax": true, "kernel.msgmnb": true, "kernel.msgmni": true, "kernel.sem": true,
	"kernel.shmall": true, "kernel.shmmax": true, "kernel.shmmni": true, "kernel.shm_rmid_forced": true,
}

// checkSysctl refuses any sysctl that would change the host, the way runc
// does: each must belong to a namespace the container has.
func checkSysctl(l *specs.Linux, bundle string) error {
	keys := make([]string, 0, len(l.Sysctl))
	for k := range l.Sysctl {
		keys = append(keys, k)
	}
	sort.Strings(keys) // report the same key every time
	for _, k := range keys {
		if err := checkOneSysctl(l, k, bundle); err != nil {
			return err
		}
	}
	return nil
}

func checkOneSysctl(l *specs.Linux, k, bundle string) error {
	field := joinKey("linux.sysctl", k)
	has := func(t specs.LinuxNamespaceType) (bool, string) {
		for _, ns := range l.Namespaces {
			if ns.Type == t {
				return true, ns.Path
			}
		}
		return false, ""
	}
	switch {
	case ipcSysctls[k] || strings.HasPrefix(k, "fs.mqueue."):
		if ok, _ := has(specs.IPCNamespace); !ok {
			return fieldErr(field, "not allowed in the host's ipc namespace (add an ipc namespace)")
		}
		return nil
	case strings.HasPrefix(k, "net."):
		ok, path := has(specs.NetworkNamespace)
		if !ok {
			return fieldErr(field, "not allowed in the host's network namespace (add a network namespace)")
		}
		if path != "" && bundle != "" && sameNamespace(path, "/proc/self/ns/net") {
			return fieldErr(field, "not allowed: linux.namespaces joins the host's network namespace %q", path)
		}
		return nil
	case k == "kernel.domainname":
		if ok, _ := has(specs.UTSNamespace); ok {
			return nil
		}
		return fieldErr(field, "not allowed in the host's uts namespace (add a uts namespace)")
	case k == "kernel.hostname":
		// Namespaced, but the hostname field does the same job; two
		// sources for one value is an error in runc too.
		return fieldErr(field, "conflicts with the hostname field, use that instead")
	}
	return fieldErr(field, "is not namespaced by the kernel, setting it would change the host")
}

// sameNamespace reports whether two namespace files name the same namespace
// (same device and inode, as setns(2) would see). Unreadable files are not
// the same: joining them will fail later with a clearer error.
func sameNamespace(a, b string) bool {
	var sa, sb unix.Stat_t
	if unix.Stat(a, &sa) != nil || unix.Stat(b, &sb) != nil {
		return false
	}
	return sa.Dev == sb.Dev && sa.Ino == sb.Ino
}

// checkTimeOffsets: config-linux.md "Offset for Time Namespace": offsets are
// written to /proc/PID/timens_offsets before the first process enters a new
// time namespace, so they need one that Gocker creates.
func checkTimeOffsets(l *specs.Linux) error {
	if len(l.TimeOffsets) == 0 {
		return nil
	}
	keys := make([]string, 0, len(l.TimeOffsets))
	for k := range l.TimeOffsets {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if k != "monotonic" && k != "boottime" {
			return fieldErr(joinKey("linux.timeOffsets", k), "unknown clock (want monotonic or boottime)")
		}
	}
	for _, ns := range l.Namespaces {
		if ns.Type != specs.TimeNamespace {
			continue
		}
		if ns.Path != "" {
			return fieldErr("linux.timeOffsets", "cannot be applied to a joined time namespace (%q)", ns.Path)
		}
		return nil
	}
	return fieldErr("linux.timeOffsets", "needs a time namespace")
}

// checkPathLists: masking or remounting read-only on the host would hide
// host files; runc requires a mount namespace for these too.
func checkPathLists(l *specs.Linux) error {
	lists := []struct {
		field string
		paths []string
	}{{"linux.maskedPaths", l.MaskedPaths}, {"linux.readonlyPaths", l.ReadonlyPaths}}
	hasMnt := false
	for _, ns := range l.Namespaces {
		hasMnt = hasMnt || ns.Type == specs.MountNamespace
	}
	for _, list := range lists {
		if err := checkAbsPaths(list.field, list.paths); err != nil {
			return err
		}
		if len(list.paths) > 0 && !hasMnt {
			return fieldErr(list.field, "needs a mount namespace")
		}
	}
	return nil
}

// checkPropagation accepts the values of config-linux.md plus the recursive
// forms runc also takes.
func checkPropagation(p string) error {
	switch p {
	case "", "shared", "slave", "private", "unbindable", "rshared", "rslave", "rprivate", "runbindable":
		return nil
	}
	return fieldErr("linux.rootfsPropagation", "unknown propagation %q", p)
}

package integration

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Mountpoints the tests bind or mount onto, created in the shared rootfs up
// front so a runtime never has to create them (the rootfs is shared and must
// stay unchanged, see testMain).
const (
	mntHooks  = "/mnt/hooks"  // bind of the test's hook dir
	mntRO     = "/mnt/ro"     // read-only bind of a host dir
	mntRW     = "/mnt/rw"     // read-write bind of a host dir
	mntTmpfs  = "/mnt/tmpfs"  // tmpfs with size/mode
	mntFile   = "/mnt/file"   // bind of a single host file
	mntMasked = "/mnt/masked" // a dir with a file, for maskedPaths
)

// buildSharedRootfs makes the one busybox rootfs all bundles use.
func buildSharedRootfs() (string, error) {
	dir, err := os.MkdirTemp("", "gocker-test-rootfs-")
	if err != nil {
		return "", err
	}
	// MkdirTemp makes 0700; a container root mapped to an unprivileged host
	// uid (user namespace test) must still be able to reach the rootfs.
	if err := os.Chmod(dir, 0o755); err != nil {
		return dir, err
	}
	sharedRootfs = filepath.Join(dir, "rootfs")
	if err := populateRootfs(sharedRootfs); err != nil {
		return dir, err
	}
	for _, d := range []string{mntHooks, mntRO, mntRW, mntTmpfs, mntMasked} {
		if err := os.MkdirAll(filepath.Join(sharedRootfs, d), 0o755); err != nil {
			return dir, err
		}
	}
	if err := os.WriteFile(filepath.Join(sharedRootfs, mntMasked, "secret"), []byte("secret\n"), 0o644); err != nil {
		return dir, err
	}
	if err := os.WriteFile(filepath.Join(sharedRootfs, mntFile), nil, 0o644); err != nil {
		return dir, err
	}
	return dir, nil
}

// snapshotTree records the name, mode, size and link target of every
// entry under root.
func snapshotTree(root string) (map[string]string, error) {
	snap := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		target, _ := os.Readlink(p)
		snap[p] = fmt.Sprintf("%v %d %s", info.Mode(), info.Size(), target)
		return nil
	})
	return snap, err
}

// treeChanges lists what differs between two snapshots, sorted.
func treeChanges(before, after map[string]string) []string {
	var out []string
	for p, b := range before {
		if a, ok := after[p]; !ok {
			out = append(out, "removed "+p)
		} else if a != b {
			out = append(out, fmt.Sprintf("changed %s: %s -> %s", p, b, a))
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok {
			out = append(out, "added "+p)
		}
	}
	slices.Sort(out)
	return out
}

// defaultSpec mirrors `runc spec` with terminal=false, an absolute read-only
// root.path on the shared rootfs, and `sleep 1000` as the process.
func defaultSpec() *specs.Spec {
	caps := []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}
	return &specs.Spec{
		Version: "1.0.2",
		Process: &specs.Process{
			User: specs.User{UID: 0, GID: 0},
			Args: []string{"sleep", "1000"},
			Env:  []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"},
			Cwd:  "/",
			Capabilities: &specs.LinuxCapabilities{
				Bounding: caps, Effective: caps, Permitted: caps, Ambient: caps,
			},
			Rlimits:         []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024}},
			NoNewPrivileges: true,
		},
		Root:     &specs.Root{Path: sharedRootfs, Readonly: true},
		Hostname: "gocker-test",
		Mounts:   defaultMounts(),
		Linux: &specs.Linux{
			Resources: &specs.LinuxResources{
				Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
			},
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace}, {Type: specs.NetworkNamespace}, {Type: specs.IPCNamespace},
				{Type: specs.UTSNamespace}, {Type: specs.MountNamespace},
			},
			MaskedPaths: []string{"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
				"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
				"/sys/firmware", "/proc/scsi"},
			ReadonlyPaths: []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"},
		},
	}
}

func defaultMounts() []specs.Mount {
	return []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc"},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs",
			Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts",
			Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm",
			Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue",
			Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs",
			Options: []string{"nosuid", "noexec", "nodev", "ro"}},
		{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup",
			Options: []string{"nosuid", "noexec", "nodev", "relatime", "ro"}},
	}
}

// bundle writes a bundle dir for container id: the default spec with
// cgroupsPath "/<id>" (so a leak is visibly named gocker-test-...), then mod.
func (e *env) bundle(id string, mod func(*specs.Spec)) string {
	e.t.Helper()
	s := defaultSpec()
	s.Linux.CgroupsPath = "/" + e.cgroupName(id)
	if mod != nil {
		mod(s)
	}
	b, err := json.MarshalIndent(s, "", "\t")
	if err != nil {
		e.t.Fatal(err)
	}
	return e.rawBundle(string(b))
}

// rawBundle writes config.json verbatim (for malformed-input tests).
func (e *env) rawBundle(config string) string {
	e.t.Helper()
	e.mu.Lock()
	e.nbundle++
	dir := filepath.Join(e.dir, "bundle"+strconv.Itoa(e.nbundle))
	e.mu.Unlock()
	e.writeFile(filepath.Join(dir, "config.json"), config, 0o644)
	return dir
}

// cgroupName picks the cgroup leaf for id: the id itself when it is a safe
// path component, else a fresh name (invalid-ID tests), both registered.
func (e *env) cgroupName(id string) string {
	name := id
	if !validLeaf(id) {
		name = "gocker-test-cg-" + randHex(4)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, c := range e.cgroups {
		if c == name {
			return name
		}
	}
	e.cgroups = append(e.cgroups, name)
	return name
}

func validLeaf(s string) bool {
	if s == "" || s == "." || s == ".." {
		return false
	}
	for _, r := range s {
		if !(r == '-' || r == '_' || r == '.' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// withArgs returns a spec modifier setting the process args.
func withArgs(args ...string) func(*specs.Spec) {
	return func(s *specs.Spec) { s.Process.Args = args }
}

// sh returns a modifier running script under `sh -c`.
func sh(script string) func(*specs.Spec) { return withArgs("sh", "-c", script) }

// chain applies modifiers in order.
func chain(mods ...func(*specs.Spec)) func(*specs.Spec) {
	return func(s *specs.Spec) {
		for _, m := range mods {
			if m != nil {
				m(s)
			}
		}
	}
}

// dropNS removes namespaces of the given types from the spec.
func dropNS(types ...specs.LinuxNamespaceType) func(*specs.Spec) {
	return func(s *specs.Spec) {
		var keep []specs.LinuxNamespace
	next:
		for _, ns := range s.Linux.Namespaces {
			for _, t := range types {
				if ns.Type == t {
					continue next
				}
			}
			keep = append(keep, ns)
		}
		s.Linux.Namespaces = keep
	}
}

// addMount appends a mount to the spec.
func addMount(m specs.Mount) func(*specs.Spec) {
	return func(s *specs.Spec) { s.Mounts = append(s.Mounts, m) }
}

package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/moby/sys/mountinfo"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

const hostCgroupRoot = "/sys/fs/cgroup"

// mountCgroup handles a mount of type "cgroup". The runtime-spec leaves
// its shape to the runtime; like runc we show the container its own cgroup,
// never the host's whole tree.
func (s *setup) mountCgroup(m specs.Mount, o *mountOpts) error {
	var st unix.Statfs_t
	if err := unix.Statfs(hostCgroupRoot, &st); err != nil {
		return fmt.Errorf("statfs %s: %w", hostCgroupRoot, err)
	}
	if st.Type == unix.CGROUP2_SUPER_MAGIC {
		return s.mountUnified(m.Destination, o)
	}
	return s.mountCgroupV1(m, o)
}

// mountUnified mounts the cgroup2 hierarchy at dest: a fresh cgroup2 mount
// when the container has its own cgroup namespace (its root is then the
// container's cgroup), else a bind of the container's cgroup directory.
func (s *setup) mountUnified(dest string, o *mountOpts) error {
	if s.o.CgroupNS {
		return s.fsMount(specs.Mount{Destination: dest, Type: "cgroup2", Source: "cgroup2"}, o)
	}
	dir, err := s.containerCgroupDir("", hostUnifiedMount())
	if err != nil {
		return err
	}
	return s.bindCgroupDir(dir, dest, o)
}

// hostUnifiedMount is the host's cgroup2 mount point: /sys/fs/cgroup on a
// unified host, /sys/fs/cgroup/unified on a hybrid one.
func hostUnifiedMount() string {
	var st unix.Statfs_t
	if err := unix.Statfs(hostCgroupRoot, &st); err == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		return hostCgroupRoot
	}
	return filepath.Join(hostCgroupRoot, "unified")
}

// Hierarchy is one cgroup v1 (or hybrid cgroup2) mount of the host.
type Hierarchy struct {
	Mountpoint string   // e.g. /sys/fs/cgroup/cpu,cpuacct
	Subsystems []string // e.g. [cpu cpuacct] or [name=systemd]; empty for cgroup2
}

// mountCgroupV1 builds what runc builds: a tmpfs at the destination, one
// directory per host hierarchy holding the container's cgroup (bound, or
// mounted afresh in a cgroup namespace), symlinks for co-mounted
// controllers (cpu -> cpu,cpuacct) and, on a hybrid host, "unified".
func (s *setup) mountCgroupV1(m specs.Mount, o *mountOpts) error {
	tmpfsOpts := &mountOpts{flags: unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, data: []string{"mode=755"}}
	tmpfs := specs.Mount{Destination: m.Destination, Type: "tmpfs", Source: "tmpfs"}
	if err := s.fsMount(tmpfs, tmpfsOpts); err != nil {
		return err
	}
	hs := s.o.Hierarchies
	if hs == nil {
		var err error
		if hs, err = HostHierarchies(); err != nil {
			return err
		}
	}
	for _, h := range hs {
		if err := s.mountHierarchy(h, m.Destination, o); err != nil {
			return fmt.Errorf("%s: %w", filepath.Base(h.Mountpoint), err)
		}
	}
	if err := s.linkComounts(hs, m.Destination); err != nil {
		return err
	}
	if o.flags&unix.MS_RDONLY == 0 {
		return nil
	}
	top, err := s.reopen(m.Destination)
	if err != nil {
		return err
	}
	defer top.Close()
	return remountBind(top, &mountOpts{flags: unix.MS_RDONLY})
}

func (s *setup) mountHierarchy(h Hierarchy, dest string, o *mountOpts) error {
	name := filepath.Base(h.Mountpoint)
	target := filepath.Join(dest, name)
	if len(h.Subsystems) == 0 { // the cgroup2 part of a hybrid host
		return s.mountUnified(target, o)
	}
	if s.o.CgroupNS {
		data := h.Subsystems
		if len(data) == 1 && strings.HasPrefix(data[0], "name=") {
			// Without "none" the kernel would try to attach every free
			// controller to a named hierarchy.
			data = []string{"none", data[0]}
		}
		opts := *o
		opts.data = append(append([]string(nil), o.data...), data...)
		return s.fsMount(specs.Mount{Destination: target, Type: "cgroup", Source: "cgroup"}, &opts)
	}
	dir, err := s.containerCgroupDir(h.Subsystems[0], h.Mountpoint)
	if err != nil {
		return err
	}
	if len(h.Subsystems) > 1 {
		// The container's path may be listed under any co-mounted name.
		for _, sub := range h.Subsystems {
			if p, ok := s.o.CgroupPaths[sub]; ok && p != "" {
				dir = p
				break
			}
		}
	}
	return s.bindCgroupDir(dir, target, o)
}

// bindCgroupDir binds the host directory dir onto target with the mount's
// flags.
func (s *setup) bindCgroupDir(dir, target string, o *mountOpts) error {
	bind := *o
	bind.flags |= unix.MS_BIND
	bind.flags &^= unix.MS_REC
	h, err := s.dirHandle(target)
	if err != nil {
		return err
	}
	defer h.Close()
	return bindOnto(dir, h, &bind, func() (*os.File, error) { return s.reopen(target) })
}

// linkComounts creates dest/cpu -> cpu,cpuacct and the like, as the host
// (systemd) does, so programs looking for a single controller find it.
func (s *setup) linkComounts(hs []Hierarchy, dest string) error {
	dir, err := s.reopen(dest)
	if err != nil {
		return err
	}
	defer dir.Close()
	for _, h := range hs {
		name := filepath.Base(h.Mountpoint)
		for _, sub := range h.Subsystems {
			if sub == name || strings.HasPrefix(sub, "name=") {
				continue
			}
			err := unix.Symlinkat(name, int(dir.Fd()), sub)
			if err != nil && !errors.Is(err, unix.EEXIST) {
				return fmt.Errorf("symlink %s -> %s: %w", sub, name, err)
			}
		}
	}
	return nil
}

// containerCgroupDir is the host directory of the container's cgroup in the
// hierarchy of subsystem key ("" for cgroup2) mounted at mountpoint. It is
// taken from Options.CgroupPaths, else from /proc/self/cgroup: by the time
// the init sets up its rootfs it has been placed in its cgroups.
func (s *setup) containerCgroupDir(key, mountpoint string) (string, error) {
	if p, ok := s.o.CgroupPaths[key]; ok && p != "" {
		return p, nil
	}
	own, err := ownCgroups()
	if err != nil {
		return "", err
	}
	p, ok := own[key]
	if !ok {
		return "", fmt.Errorf("no cgroup path for %q", key)
	}
	root := "/"
	if mi, err := mountinfo.GetMounts(mountinfo.SingleEntryFilter(mountpoint)); err == nil && len(mi) > 0 {
		root = mi[len(mi)-1].Root
	}
	rel, err := filepath.Rel(root, p)
	if err != nil || strings.HasPrefix(rel, "..") {
		return "", fmt.Errorf("cgroup %s is outside the host mount %s", p, mountpoint)
	}
	return filepath.Join(mountpoint, rel), nil
}

// HostHierarchies lists the cgroup mounts directly below /sys/fs/cgroup
// that this process is in, sorted by mount point. The parent sends its
// own list to the init (Options.Hierarchies), which then reads neither
// mountinfo nor /proc/self/cgroup on its start path.
func HostHierarchies() ([]Hierarchy, error) {
	mounts, err := mountinfo.GetMounts(mountinfo.FSTypeFilter("cgroup", "cgroup2"))
	if err != nil {
		return nil, fmt.Errorf("read mountinfo: %w", err)
	}
	return HierarchiesFrom(mounts)
}

// HierarchiesFrom is HostHierarchies over mounts already read (the parent
// has read mountinfo for the cgroup paths).
func HierarchiesFrom(mounts []*mountinfo.Info) ([]Hierarchy, error) {
	own, err := ownCgroups()
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var hs []Hierarchy
	for _, m := range mounts {
		if m.FSType != "cgroup" && m.FSType != "cgroup2" || filepath.Dir(m.Mountpoint) != hostCgroupRoot || seen[m.Mountpoint] {
			continue
		}
		seen[m.Mountpoint] = true
		h := Hierarchy{Mountpoint: m.Mountpoint}
		if m.FSType == "cgroup" {
			for _, opt := range strings.Split(m.VFSOptions, ",") {
				if _, ok := own[opt]; ok {
					h.Subsystems = append(h.Subsystems, opt)
				}
			}
			if len(h.Subsystems) == 0 {
				continue // a hierarchy this process is not in
			}
		}
		hs = append(hs, h)
	}
	sort.Slice(hs, func(i, j int) bool { return hs[i].Mountpoint < hs[j].Mountpoint })
	return hs, nil
}

// ownCgroups maps each controller of every hierarchy this process is in
// ("cpu" and "cpuacct" both for "cpu,cpuacct", "name=systemd", "" for
// cgroup2) to its cgroup path, from /proc/self/cgroup (cgroups(7)). Not
// the cgroups library's parser: the init would carry all of that library.
func ownCgroups() (map[string]string, error) {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	own := map[string]string{}
	for line := range strings.SplitSeq(strings.TrimSpace(string(b)), "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 {
			continue
		}
		for c := range strings.SplitSeq(f[1], ",") {
			own[c] = f[2]
		}
	}
	return own, nil
}

package cgroups

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/moby/sys/mountinfo"
	"github.com/opencontainers/cgroups"
	// Registers the device controller (v1 devices.allow/deny, v2 eBPF);
	// without it the library refuses any device rule with
	// ErrDevicesUnsupported.
	_ "github.com/opencontainers/cgroups/devices"
	"github.com/opencontainers/cgroups/fscommon"
	"github.com/opencontainers/cgroups/manager"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// Options select the cgroup driver.
type Options struct {
	// Systemd uses the systemd driver (--systemd-cgroup): the cgroup is a
	// transient scope and cgroupsPath has the form "slice:prefix:name".
	Systemd bool
	// Rootless lets Apply carry on without a cgroup when it has no
	// permission and no cgroupsPath was given (the library's semantics).
	Rootless bool
	// Shared tells a manager built by a later command that Apply joined an
	// existing cgroup (Created() was false): Destroy then leaves it in
	// place and KillAll refuses. The caller persists this fact.
	Shared bool
}

// Manager is one container's cgroup.
type Manager struct {
	mgr     cgroups.Manager
	cg      *cgroups.Cgroup
	v2      bool
	inner   string // the cgroup's path inside each hierarchy ("" for systemd)
	shared  bool
	created bool
	// rootlessOptional: no permission to create the cgroup is not an
	// error (rootless, no cgroupsPath, no limits).
	rootlessOptional bool
	none             bool              // rootlessOptional and no permission: no cgroup at all
	systemd          bool              // the systemd driver: systemd moves processes
	checked          bool              // BeginCreate found out shared and created
	mounts           []*mountinfo.Info // v1 fs driver: the mount table New read
}

// Mounts is the mount table New read to place a v1 cgroup (nil for v2
// and systemd), so the caller need not read mountinfo again.
func (m *Manager) Mounts() []*mountinfo.Info { return m.mounts }

// Bounds for operations that wait for the kernel.
var (
	destroyTimeout = 5 * time.Second
	killTimeout    = 10 * time.Second
	pollInterval   = 10 * time.Millisecond
)

// IsV2 reports whether the host runs the cgroup v2 unified hierarchy.
func IsV2() bool { return cgroups.IsCgroup2UnifiedMode() }

// New builds the manager for container id. It validates res and makes no
// change on disk, so a bad config leaves nothing behind.
func New(id, cgroupsPath string, res *specs.LinuxResources, o Options) (*Manager, error) {
	v2 := IsV2()
	val := validation{v2: v2}
	if err := val.validate(res); err != nil {
		return nil, err
	}
	cg, err := cgroupConfig(id, cgroupsPath, o)
	if err != nil {
		return nil, err
	}
	if cg.Resources, err = Convert(res, v2, false); err != nil {
		return nil, err
	}
	var paths map[string]string
	var mounts []*mountinfo.Info
	if !v2 && !o.Systemd {
		if paths, mounts, err = v1Paths(cg.Path, cg.Resources.SkipDevices); err != nil {
			return nil, fmt.Errorf("cgroup manager for %s: %w", id, err)
		}
	}
	mgr, err := manager.NewWithPaths(cg, paths)
	if err != nil {
		return nil, fmt.Errorf("cgroup manager for %s: %w", id, err)
	}
	m := &Manager{mgr: mgr, cg: cg, v2: v2, inner: cg.Path, mounts: mounts, shared: o.Shared, created: !o.Shared, systemd: o.Systemd,
		rootlessOptional: o.Rootless && cgroupsPath == "" && !hasLimits(res)}
	// A second pass now that the paths are known: a limit for a
	// controller this host does not have is refused here, naming the
	// field, instead of failing half-way through Apply.
	val.available = m.available
	if err := val.validate(res); err != nil {
		return nil, err
	}
	return m, nil
}

// UseResources validates res and makes it the resources that SetLimits
// writes, for a manager that New got without them: create makes the
// cgroup while the full config is still being decoded (runtime/early.go).
// Not for rootless managers, whose behaviour at Create depends on them.
func (m *Manager) UseResources(res *specs.LinuxResources) error {
	val := validation{v2: m.v2, available: m.available}
	if err := val.validate(res); err != nil {
		return err
	}
	r, err := Convert(res, m.v2, false)
	if err != nil {
		return err
	}
	// The library's manager holds m.cg: it sees the new value too.
	m.cg.Resources = r
	return nil
}

// available reports whether the cgroup can use a controller.
func (m *Manager) available(controller string) bool {
	if !m.v2 {
		_, ok := m.mgr.GetPaths()[controller]
		return ok
	}
	data, err := cgroups.ReadFile(fs2Root, "cgroup.controllers")
	if err != nil {
		return false
	}
	for c := range strings.FieldsSeq(data) {
		if c == controller {
			return true
		}
	}
	return false
}

const fs2Root = "/sys/fs/cgroup"

// hasLimits reports whether res asks for anything beyond the default
// device rules (which a rootless container cannot set anyway).
func hasLimits(res *specs.LinuxResources) bool {
	if res == nil {
		return false
	}
	return res.Memory != nil || res.CPU != nil || res.Pids != nil || res.BlockIO != nil ||
		len(res.HugepageLimits) > 0 || res.Network != nil || len(res.Rdma) > 0 || len(res.Unified) > 0
}

// Created reports whether Apply made the cgroup (or found it empty), so
// Destroy will remove it; false means the container joined a cgroup that
// had other processes.
func (m *Manager) Created() bool { return m.created }

// Apply creates the cgroup (with any missing parents) in every hierarchy,
// moves pid into it and sets the resources. If the cgroup already holds
// other processes the container joins it as shared (see Created).
// pid -1 only creates the cgroup and sets the resources.
func (m *Manager) Apply(pid int) error {
	if err := m.join(pid); err != nil {
		return err
	}
	return m.SetLimits()
}

// Create makes the cgroup without setting any resource, for a caller that
// moves the init in (AddPid) and sets the limits (SetLimits) once the init
// is ready, as runc does. The init is a Go program: it starts threads
// while it sets up the container, and each counts against pids.max, so a
// small pids limit in force during setup kills it (pthread_create: EAGAIN);
// likewise a small memory limit.
func (m *Manager) Create() error { return m.join(-1) }

func (m *Manager) join(pid int) error {
	if !m.checked {
		busy, err := m.occupied(pid)
		if err != nil {
			return fmt.Errorf("apply cgroup: %w", err)
		}
		m.shared, m.created = busy, !busy
	}
	if err := m.applyRetry(pid); err != nil {
		m.rollback()
		if m.rootlessOptional && errors.Is(err, os.ErrPermission) {
			// runc's rule: a rootless container that asked for no
			// cgroup and no limits runs without one.
			logrus.Debugf("rootless: running without a cgroup: %v", err)
			m.created = false
			m.shared = true // nothing of ours to kill or remove
			m.none = true
			return nil
		}
		return fmt.Errorf("apply cgroup %s: %w", m.name(), err)
	}
	return nil
}

// SetLimits writes the resources given to New into the cgroup made by
// Create or Apply. On failure a cgroup that holds no process is removed;
// one that does is left for the caller's KillAll and Destroy.
func (m *Manager) SetLimits() error {
	if m.none {
		return nil
	}
	res := m.cg.Resources
	dir := m.Paths()["devices"]
	ordered := !m.v2 && m.created && dir != "" && !res.SkipDevices
	if ordered {
		// writeDevicesInOrder below sets them; the library's emulator pass
		// would only be overwritten.
		r := *res
		r.SkipDevices = true
		res = &r
	}
	if err := m.mgr.Set(res); err != nil {
		m.rollback()
		return fmt.Errorf("apply cgroup %s: %w", m.name(), m.explain(err, m.cg.Resources))
	}
	if ordered {
		if err := writeDevicesInOrder(dir, m.cg.Resources.Devices); err != nil {
			m.rollback()
			return fmt.Errorf("apply cgroup %s: %w", m.name(), err)
		}
	}
	return nil
}

// applyRetry retries when a parent vanished under us: Destroy of another
// container may rmdir an empty /gocker between our mkdir of it and of the
// child (see prune). The library reports that as ENOENT, except in a named
// v1 hierarchy (name=systemd), whose errors it ignores
// (opencontainers/cgroups fs.NameGroup.Apply): so success means every
// directory is there, checked. Once they are, they keep their parents.
// A file of a parent being removed reads ENODEV (kernfs), as the cpuset
// controller's copy of the parent's cpus and mems does. Only a cgroup
// under Parent has a parent that prune removes; the others (the default
// /gocker-<id>, absolute paths) skip the check, one stat per hierarchy.
func (m *Manager) applyRetry(pid int) error {
	var err error
	underParent := strings.HasPrefix(m.inner, Parent+"/")
	for range 5 {
		err = m.mgr.Apply(pid)
		if err == nil && underParent {
			err = m.allExist()
		}
		if err == nil || !(errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ENODEV)) {
			return err
		}
	}
	return err
}

// allExist reports a hierarchy whose cgroup directory is missing.
func (m *Manager) allExist() error {
	for _, p := range m.Paths() {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err != nil {
			return err
		}
	}
	return nil
}

// rollback undoes a failed Apply. When the failure came after pid joined,
// rmdir keeps failing with EBUSY until the caller kills it, so Destroy
// would spend its whole destroyTimeout here on every rejected config; the
// cgroup is then left to the caller, for whom Created() stays true (create
// kills the init, then KillAll and Destroy).
func (m *Manager) rollback() {
	if m.created && !m.hasProcesses() {
		_ = m.Destroy()
	}
}

// hasProcesses reports whether any hierarchy's cgroup holds a process (on
// v1 a failed Apply may have moved the pid into only some of them).
func (m *Manager) hasProcesses() bool {
	for _, p := range m.Paths() {
		if p == "" || !cgroups.PathExists(p) {
			continue
		}
		if pids, err := cgroups.GetAllPids(p); err != nil || len(pids) > 0 {
			return true
		}
	}
	return false
}

func (m *Manager) name() string {
	if m.inner != "" {
		return m.inner
	}
	return m.mgr.Path("")
}

// occupied reports whether the cgroup exists already with processes other
// than pid in it.
func (m *Manager) occupied(pid int) (bool, error) {
	for _, p := range m.Paths() {
		if p == "" || !cgroups.PathExists(p) {
			continue
		}
		pids, err := cgroups.GetAllPids(p)
		if err != nil {
			return false, err
		}
		for _, q := range pids {
			if q != pid {
				return true, nil
			}
		}
	}
	return false, nil
}

// Set updates the resources of the running container. Fields left unset
// keep their current value; device rules are only changed when res has
// some.
func (m *Manager) Set(res *specs.LinuxResources) error {
	val := validation{v2: m.v2, update: true, available: m.available}
	if err := val.validate(res); err != nil {
		return err
	}
	r, err := Convert(res, m.v2, true)
	if err != nil {
		return err
	}
	if m.v2 && res != nil {
		if err := m.checkUsageV2(res.Memory); err != nil {
			return err
		}
	}
	if err := m.mgr.Set(r); err != nil {
		return fmt.Errorf("update cgroup %s: %w", m.name(), m.explain(err, r))
	}
	return nil
}

// checkUsageV2 refuses a new memory limit below the current usage, as v1's
// kernel does by itself (see explain). A v2 memory.max write always
// succeeds and the kernel then reclaims and OOM-kills the container's
// processes to get under it (Documentation/admin-guide/cgroup-v2.rst,
// memory.max), so an update on v2 acts as if the runtime-spec's
// memory.checkBeforeUpdate were set, unless it is explicitly false.
func (m *Manager) checkUsageV2(mem *specs.LinuxMemory) error {
	if mem == nil || (mem.CheckBeforeUpdate != nil && !*mem.CheckBeforeUpdate) {
		return nil
	}
	dir := m.mgr.Path("")
	usage, err := fscommon.GetCgroupParamUint(dir, "memory.current")
	if err != nil {
		return nil // no memory controller here: the write reports it
	}
	f := resField + ".memory"
	if l := mem.Limit; l != nil && *l > 0 && uint64(*l) < usage {
		return fieldErr(f+".limit", "%d is below the container's current usage of %d bytes", *l, usage)
	}
	// memory.swap is the memory+swap total (runtime-spec), so it is
	// compared with memory and swap usage together.
	if sw := mem.Swap; sw != nil && *sw > 0 {
		swapUsage, _ := fscommon.GetCgroupParamUint(dir, "memory.swap.current")
		if uint64(*sw) < usage+swapUsage {
			return fieldErr(f+".swap", "%d is below the container's current memory+swap usage of %d bytes", *sw, usage+swapUsage)
		}
	}
	return nil
}

// explain turns the v1 kernel's EBUSY for a memory limit below the current
// usage (mm/memcontrol-v1.c mem_cgroup_resize_max gives up reclaiming)
// into an error naming the field.
func (m *Manager) explain(err error, r *cgroups.Resources) error {
	if m.v2 {
		return err
	}
	dir := m.mgr.Path("memory")
	for _, c := range []struct {
		field, file string
		limit       int64
	}{
		{"limit", "memory.usage_in_bytes", r.Memory},
		{"swap", "memory.memsw.usage_in_bytes", r.MemorySwap},
	} {
		if c.limit <= 0 {
			continue
		}
		usage, uerr := fscommon.GetCgroupParamUint(dir, c.file)
		if uerr == nil && usage > uint64(c.limit) {
			return fieldErr(resField+".memory."+c.field,
				"%d is below the container's current usage of %d bytes", c.limit, usage)
		}
	}
	return err
}

// Exists reports whether the cgroup directory exists in any hierarchy.
func (m *Manager) Exists() bool {
	for _, p := range m.Paths() {
		if p != "" && cgroups.PathExists(p) {
			return true
		}
	}
	return false
}

// Paths maps each v1 hierarchy (controller name, or "name=systemd") to the
// cgroup's absolute directory; on v2 the single key "" holds the unified
// directory. On a v1 host in hybrid mode "" is the cgroup2 directory under
// /sys/fs/cgroup/unified, which the library joins too.
func (m *Manager) Paths() map[string]string {
	return maps.Clone(m.mgr.GetPaths())
}

// Destroy removes the cgroup in every hierarchy, child cgroups first. It
// retries while the kernel says EBUSY (tasks still exiting), is a no-op
// when the cgroup is already gone, and leaves a shared cgroup alone.
func (m *Manager) Destroy() error {
	if m.shared {
		return nil
	}
	paths := m.Paths()
	all := maps.Clone(paths)
	if m.cg.Systemd {
		// Stops the transient unit; systemd removes its cgroup.
		if err := m.mgr.Destroy(); err != nil {
			return fmt.Errorf("destroy cgroup %s: %w", m.name(), err)
		}
	}
	deadline := time.Now().Add(destroyTimeout)
	for {
		// RemovePaths drops each path it removed from the map, so a
		// retry only retries the rest.
		err := cgroups.RemovePaths(paths)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("destroy cgroup %s: %w", m.name(), err)
		}
		time.Sleep(pollInterval)
	}
	m.prune(all)
	return nil
}

// prune removes the now-empty parents between the cgroup and Parent
// (inclusive), so a host without containers has no /gocker left. rmdir of a
// cgroup that still has children fails (EBUSY), which makes this safe
// against other containers; a concurrent Apply retries (see applyRetry).
// Parents of a cgroupsPath outside Parent belong to whoever chose it.
func (m *Manager) prune(paths map[string]string) {
	if !strings.HasPrefix(m.inner, Parent+"/") {
		return
	}
	for _, p := range paths {
		root, ok := strings.CutSuffix(p, m.inner)
		if !ok {
			continue
		}
		stop := filepath.Join(root, Parent)
		for dir := filepath.Dir(p); len(dir) >= len(stop); dir = filepath.Dir(dir) {
			if err := unix.Rmdir(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
				break
			}
		}
	}
}

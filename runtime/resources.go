package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"

	"github.com/gocker/gocker/runtime/cgroups"
	"github.com/gocker/gocker/runtime/state"
)

// ErrNotPaused carries runc's wording for resume of a container that is
// not paused.
var ErrNotPaused = errors.New("container not paused")

// errNoCgroup is returned by the resource verbs for a container whose
// config snapshot is missing (a create that died half-way).
func errNoCgroup(id string) error {
	return fmt.Errorf("container %s has no cgroup configuration", id)
}

// noCgroup is the error of verb for a container without a cgroup of its
// own: a rootless one that asked for none (rootless.go), or one whose
// snapshot is missing. runc fails these verbs too, with less to go on.
func (c *Container) noCgroup(verb string) error {
	if c.Spec != nil && c.State.CgroupShared {
		return fmt.Errorf("container %s runs without a cgroup of its own (rootless, with no linux.cgroupsPath and no limits): %s needs one; set linux.cgroupsPath to a cgroup you may write to", c.ID, verb)
	}
	return errNoCgroup(c.ID)
}

// loadLocked loads id and takes its lock, then reloads: the snapshot read
// before the lock may predate a concurrent update.
func loadLocked(o Options, id string) (*Container, *state.Lock, error) {
	c, err := Load(o, id)
	if err != nil {
		return nil, nil, err
	}
	lock, err := c.Store.Lock(id)
	if err != nil {
		return nil, nil, err
	}
	if c, err = Load(o, id); err != nil {
		lock.Release()
		return nil, nil, err
	}
	return c, lock, nil
}

// live reports whether the container has processes whose cgroup a
// resource verb may act on. runc allows pause and update of a created
// container too.
func live(st specs.ContainerState) bool {
	return st == specs.StateCreated || st == specs.StateRunning || st == StatusPaused
}

// Pause freezes every process of the container (v1 freezer.state, v2
// cgroup.freeze). A created container can be paused too, as in runc.
func Pause(o Options, id string) error {
	c, lock, err := loadLocked(o, id)
	if err != nil {
		return err
	}
	defer lock.Release()
	switch st := c.Status(); st {
	case specs.StateCreated, specs.StateRunning:
	case StatusPaused:
		return fmt.Errorf("container %s is already paused: %w", id, ErrNotRunning)
	default:
		return ErrNotRunning
	}
	m := c.cgroup()
	if m == nil {
		return c.noCgroup("pause")
	}
	return m.Freeze()
}

// Resume thaws a paused container. It takes no lock: an `exec
// --ignore-paused` holds the container lock until its process runs, which
// in a frozen cgroup is only after this resume. Thawing cannot harm a
// concurrent verb (delete thaws too, to deliver its SIGKILLs).
func Resume(o Options, id string) error {
	c, err := Load(o, id)
	if err != nil {
		return err
	}
	if c.Status() != StatusPaused {
		return ErrNotPaused
	}
	m := c.cgroup()
	if m == nil {
		return c.noCgroup("resume")
	}
	return m.Thaw()
}

// thawForKill thaws a paused container after SIGKILL was sent: on cgroup
// v1 a frozen task does not act on any signal until thawed
// (Documentation/admin-guide/cgroup-v1/freezer-subsystem.rst), so `kill
// KILL` of a paused container would otherwise leave it frozen, alive and
// undeletable. runc does the same, for SIGKILL only: other signals must not
// silently resume a paused container.
func (c *Container) thawForKill(wasPaused bool) {
	if !wasPaused {
		return
	}
	if m := c.cgroup(); m != nil {
		if err := m.Thaw(); err != nil {
			logrus.Warnf("thaw after SIGKILL: %v", err)
		}
	}
}

// Processes lists the host pids in the container's cgroup (`gocker ps`),
// or, for a container without one that has its own pid namespace, the
// processes in that namespace.
func Processes(o Options, id string) ([]int, error) {
	c, err := Load(o, id)
	if err != nil {
		return nil, err
	}
	m := c.cgroup()
	if m == nil {
		if c.Spec != nil && c.State.CgroupShared && ownPidNS(c.Spec) {
			return pidNSMembers(c.State.InitPid)
		}
		return nil, c.noCgroup("ps")
	}
	pids, err := m.Pids()
	if err != nil {
		return nil, err
	}
	if pids == nil {
		pids = []int{}
	}
	return pids, nil
}

// Update merges res into the container's linux.resources, applies the
// result to its cgroup and stores it in the config snapshot, all under the
// container lock, so the next update and `events` start from it. Zero
// values and empty strings mean "unchanged", as in `runc update` (whose
// --resources format lists every field as 0). On failure the previous
// resources are re-applied and the snapshot is left as it was.
func Update(o Options, id string, res *specs.LinuxResources) error {
	c, lock, err := loadLocked(o, id)
	if err != nil {
		return err
	}
	defer lock.Release()
	if !live(c.Status()) {
		return ErrNotRunning
	}
	if c.Spec == nil {
		return errNoCgroup(id)
	}
	m := c.cgroup()
	if m == nil {
		return c.noCgroup("update")
	}
	var old *specs.LinuxResources
	var path string
	if c.Spec.Linux != nil {
		old, path = c.Spec.Linux.Resources, c.Spec.Linux.CgroupsPath
	}
	merged := mergeResources(old, res)
	// The merged set must pass the same checks as at create, or the
	// snapshot could no longer be loaded and delete could not find the
	// cgroup to remove it.
	if _, err := cgroups.New(id, path, merged, cgroups.Options{Shared: c.State.CgroupShared}); err != nil {
		return err
	}
	if err := m.Set(forSet(merged, res)); err != nil {
		if old != nil {
			if rerr := m.Set(forSet(old, nil)); rerr != nil {
				logrus.Warnf("update: restoring the previous resources failed: %v", rerr)
			}
		}
		return err
	}
	if err := c.saveResources(merged); err != nil {
		return fmt.Errorf("update: limits applied but not recorded: %w", err)
	}
	return nil
}

// forSet is what Manager.Set receives: the whole merged set, so paired
// values (memory and swap, quota and period) are written together, minus
// the device rules, which `update` does not change (the library would
// otherwise rewrite the allow list on every update). checkBeforeUpdate is
// a property of this one update, so it comes from req only.
func forSet(merged, req *specs.LinuxResources) *specs.LinuxResources {
	if merged == nil {
		return &specs.LinuxResources{}
	}
	r := *merged
	r.Devices = nil
	if r.Memory != nil {
		mem := *r.Memory
		mem.CheckBeforeUpdate = nil
		if req != nil && req.Memory != nil {
			mem.CheckBeforeUpdate = req.Memory.CheckBeforeUpdate
		}
		r.Memory = &mem
	}
	return &r
}

// saveResources writes res into the config snapshot. The snapshot is
// patched as JSON rather than re-encoded from specs.Spec, so fields this
// version of the spec package does not know survive.
func (c *Container) saveResources(res *specs.LinuxResources) error {
	path := c.Store.Path(c.ID, state.ConfigFile)
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read config snapshot: %w", err)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil {
		return fmt.Errorf("decode config snapshot: %w", err)
	}
	linux := map[string]json.RawMessage{}
	if l, ok := top["linux"]; ok && string(l) != "null" {
		if err := json.Unmarshal(l, &linux); err != nil {
			return fmt.Errorf("decode config snapshot linux: %w", err)
		}
	}
	if linux["resources"], err = json.Marshal(res); err != nil {
		return err
	}
	if top["linux"], err = json.Marshal(linux); err != nil {
		return err
	}
	out, err := json.Marshal(top)
	if err != nil {
		return err
	}
	return state.WriteFileAtomic(path, out, 0o600)
}

// mergeResources returns old with every set field of upd laid over it.
// Device rules are not updatable (runc ignores them too); kernel memory
// limits no longer exist in the kernel and are dropped with a warning.
func mergeResources(old, upd *specs.LinuxResources) *specs.LinuxResources {
	out := &specs.LinuxResources{}
	if old != nil {
		out = deepCopy(old)
	}
	if upd == nil {
		return out
	}
	if len(upd.Devices) > 0 {
		logrus.Warn("update: linux.resources.devices cannot be updated; ignored")
	}
	out.Memory = mergeMemory(out.Memory, upd.Memory)
	out.CPU = mergeCPU(out.CPU, upd.CPU)
	if upd.Pids != nil && upd.Pids.Limit != nil && *upd.Pids.Limit != 0 {
		out.Pids = &specs.LinuxPids{Limit: upd.Pids.Limit}
	}
	out.BlockIO = mergeBlockIO(out.BlockIO, upd.BlockIO)
	out.HugepageLimits = mergeHugepages(out.HugepageLimits, upd.HugepageLimits)
	if upd.Network != nil {
		out.Network = upd.Network
	}
	if len(upd.Rdma) > 0 {
		if out.Rdma == nil {
			out.Rdma = map[string]specs.LinuxRdma{}
		}
		maps.Copy(out.Rdma, upd.Rdma)
	}
	if len(upd.Unified) > 0 {
		if out.Unified == nil {
			out.Unified = map[string]string{}
		}
		maps.Copy(out.Unified, upd.Unified)
	}
	return out
}

// deepCopy copies r through JSON: every field of LinuxResources is plain
// data, and the merge must not write through pointers into c.Spec.
func deepCopy(r *specs.LinuxResources) *specs.LinuxResources {
	b, err := json.Marshal(r)
	if err != nil {
		panic(fmt.Sprintf("copy resources: %v", err)) // plain data cannot fail
	}
	out := &specs.LinuxResources{}
	if err := json.Unmarshal(b, out); err != nil {
		panic(fmt.Sprintf("copy resources: %v", err))
	}
	return out
}

// setI64 and friends overwrite *dst when src holds a non-zero value.
func setI64(dst **int64, src *int64) {
	if src != nil && *src != 0 {
		*dst = src
	}
}

func setU64(dst **uint64, src *uint64) {
	if src != nil && *src != 0 {
		*dst = src
	}
}

func setU16(dst **uint16, src *uint16) {
	if src != nil && *src != 0 {
		*dst = src
	}
}

func setStr(dst *string, src string) {
	if src != "" {
		*dst = src
	}
}

func mergeMemory(out, upd *specs.LinuxMemory) *specs.LinuxMemory {
	if upd == nil {
		return out
	}
	if out == nil {
		out = &specs.LinuxMemory{}
	}
	setI64(&out.Limit, upd.Limit)
	setI64(&out.Reservation, upd.Reservation)
	setI64(&out.Swap, upd.Swap)
	if upd.Kernel != nil || upd.KernelTCP != nil { //nolint:staticcheck // read only to warn
		logrus.Warn("update: kernel memory limits are not supported by the kernel; ignored")
	}
	// Swappiness 0 and false are real values, so only nil means unchanged.
	if upd.Swappiness != nil {
		out.Swappiness = upd.Swappiness
	}
	if upd.DisableOOMKiller != nil {
		out.DisableOOMKiller = upd.DisableOOMKiller
	}
	return out
}

func mergeCPU(out, upd *specs.LinuxCPU) *specs.LinuxCPU {
	if upd == nil {
		return out
	}
	if out == nil {
		out = &specs.LinuxCPU{}
	}
	setU64(&out.Shares, upd.Shares)
	setI64(&out.Quota, upd.Quota)
	setU64(&out.Burst, upd.Burst)
	setU64(&out.Period, upd.Period)
	setI64(&out.RealtimeRuntime, upd.RealtimeRuntime)
	setU64(&out.RealtimePeriod, upd.RealtimePeriod)
	setStr(&out.Cpus, upd.Cpus)
	setStr(&out.Mems, upd.Mems)
	if upd.Idle != nil {
		out.Idle = upd.Idle
	}
	return out
}

func mergeBlockIO(out, upd *specs.LinuxBlockIO) *specs.LinuxBlockIO {
	if upd == nil {
		return out
	}
	if out == nil {
		out = &specs.LinuxBlockIO{}
	}
	setU16(&out.Weight, upd.Weight)
	setU16(&out.LeafWeight, upd.LeafWeight)
	// A device list given replaces the stored one.
	for _, l := range []struct{ dst, src *[]specs.LinuxThrottleDevice }{
		{&out.ThrottleReadBpsDevice, &upd.ThrottleReadBpsDevice},
		{&out.ThrottleWriteBpsDevice, &upd.ThrottleWriteBpsDevice},
		{&out.ThrottleReadIOPSDevice, &upd.ThrottleReadIOPSDevice},
		{&out.ThrottleWriteIOPSDevice, &upd.ThrottleWriteIOPSDevice},
	} {
		if len(*l.src) > 0 {
			*l.dst = *l.src
		}
	}
	if len(upd.WeightDevice) > 0 {
		out.WeightDevice = upd.WeightDevice
	}
	return out
}

// mergeHugepages replaces the limit of each page size given.
func mergeHugepages(out, upd []specs.LinuxHugepageLimit) []specs.LinuxHugepageLimit {
next:
	for _, u := range upd {
		for i := range out {
			if out[i].Pagesize == u.Pagesize {
				out[i].Limit = u.Limit
				continue next
			}
		}
		out = append(out, u)
	}
	return out
}

package cgroups

import (
	"fmt"
	"maps"

	"github.com/opencontainers/cgroups"
	devcfg "github.com/opencontainers/cgroups/devices/config"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
)

// defaultDeviceRules are appended after the config's device rules, as runc
// does (libcontainer/specconv AllowedDevices): the devices every container
// gets in /dev (runtime-spec "Default Devices") must stay usable even when
// linux.resources.devices starts with a deny-all rule, plus mknod of any
// char/block device and the pty devices for terminals.
var defaultDeviceRules = []devcfg.Rule{
	{Type: devcfg.CharDevice, Major: devcfg.Wildcard, Minor: devcfg.Wildcard, Permissions: "m", Allow: true},
	{Type: devcfg.BlockDevice, Major: devcfg.Wildcard, Minor: devcfg.Wildcard, Permissions: "m", Allow: true},
	{Type: devcfg.CharDevice, Major: 1, Minor: 3, Permissions: "rwm", Allow: true},                 // /dev/null
	{Type: devcfg.CharDevice, Major: 1, Minor: 8, Permissions: "rwm", Allow: true},                 // /dev/random
	{Type: devcfg.CharDevice, Major: 1, Minor: 7, Permissions: "rwm", Allow: true},                 // /dev/full
	{Type: devcfg.CharDevice, Major: 5, Minor: 0, Permissions: "rwm", Allow: true},                 // /dev/tty
	{Type: devcfg.CharDevice, Major: 1, Minor: 5, Permissions: "rwm", Allow: true},                 // /dev/zero
	{Type: devcfg.CharDevice, Major: 1, Minor: 9, Permissions: "rwm", Allow: true},                 // /dev/urandom
	{Type: devcfg.CharDevice, Major: 136, Minor: devcfg.Wildcard, Permissions: "rwm", Allow: true}, // /dev/pts/*
	{Type: devcfg.CharDevice, Major: 5, Minor: 2, Permissions: "rwm", Allow: true},                 // /dev/ptmx
}

// deviceType maps the spec's device cgroup type; empty means "a" (all), per
// runtime-spec config-linux.md "Device allowlist".
func deviceType(t string) (devcfg.Type, error) {
	switch t {
	case "", "a":
		return devcfg.WildcardDevice, nil
	case "b":
		return devcfg.BlockDevice, nil
	case "c":
		return devcfg.CharDevice, nil
	}
	return 0, fmt.Errorf("invalid device type %q", t)
}

// convertDevices builds the device rules. An empty access means all of
// "rwm" (the spec makes access optional and crun reads it that way).
func convertDevices(in []specs.LinuxDeviceCgroup) ([]*devcfg.Rule, error) {
	out := make([]*devcfg.Rule, 0, len(in)+len(defaultDeviceRules))
	for i, d := range in {
		t, err := deviceType(d.Type)
		if err != nil {
			return nil, fmt.Errorf("%s.devices[%d]: %w", resField, i, err)
		}
		r := &devcfg.Rule{Type: t, Major: devcfg.Wildcard, Minor: devcfg.Wildcard,
			Permissions: devcfg.Permissions(d.Access), Allow: d.Allow}
		if d.Major != nil {
			r.Major = *d.Major
		}
		if d.Minor != nil {
			r.Minor = *d.Minor
		}
		if r.Permissions == "" {
			r.Permissions = "rwm"
		}
		out = append(out, r)
	}
	for _, r := range defaultDeviceRules {
		out = append(out, &r)
	}
	return out, nil
}

// Convert turns the spec's linux.resources into the library's Resources.
// v2 selects the cgroup v2 conversions the library leaves to its caller
// (cpu.shares -> cpu.weight); the others (blkio weight -> io.weight,
// memory+swap -> memory.swap.max) are done by the library's fs2. With
// update set, the device rules are left alone unless res gives some, like
// `runc update`, so an update does not reset the allow list.
func Convert(res *specs.LinuxResources, v2, update bool) (*cgroups.Resources, error) {
	if res == nil {
		res = &specs.LinuxResources{}
	}
	if len(res.Unified) > 0 && !v2 {
		return nil, fieldErr(resField+".unified", "requires cgroup v2")
	}
	r := &cgroups.Resources{}
	if update && len(res.Devices) == 0 {
		r.SkipDevices = true
	} else {
		devs, err := convertDevices(res.Devices)
		if err != nil {
			return nil, err
		}
		r.Devices = devs
	}
	convertMemory(r, res.Memory, update)
	convertCPU(r, res.CPU, v2)
	if res.Pids != nil {
		r.PidsLimit = res.Pids.Limit
	}
	convertBlockIO(r, res.BlockIO)
	for _, l := range res.HugepageLimits {
		r.HugetlbLimit = append(r.HugetlbLimit, &cgroups.HugepageLimit{Pagesize: l.Pagesize, Limit: l.Limit})
	}
	convertNetwork(r, res.Network)
	if len(res.Rdma) > 0 {
		r.Rdma = make(map[string]cgroups.LinuxRdma, len(res.Rdma))
		for dev, l := range res.Rdma {
			r.Rdma[dev] = cgroups.LinuxRdma{HcaHandles: l.HcaHandles, HcaObjects: l.HcaObjects}
		}
	}
	if len(res.Unified) > 0 {
		r.Unified = maps.Clone(res.Unified)
	}
	return r, nil
}

func convertMemory(r *cgroups.Resources, m *specs.LinuxMemory, update bool) {
	if m == nil {
		return
	}
	if m.Limit != nil {
		r.Memory = *m.Limit
	}
	if m.Reservation != nil {
		r.MemoryReservation = *m.Reservation
	}
	if m.Swap != nil {
		r.MemorySwap = *m.Swap
	}
	if m.Kernel != nil || m.KernelTCP != nil { //nolint:staticcheck // deprecated, read only to warn
		// Kernel memory limits were removed in kernel 5.4 (and never
		// existed in v2), so runc ignores them too.
		logrus.Warn("linux.resources.memory.kernel and kernelTCP are ignored: kernel memory limits are not supported")
	}
	r.MemorySwappiness = m.Swappiness
	if m.DisableOOMKiller != nil {
		r.OomKillDisable = *m.DisableOOMKiller
	}
	if update && m.CheckBeforeUpdate != nil {
		r.MemoryCheckBeforeUpdate = *m.CheckBeforeUpdate
	}
}

func convertCPU(r *cgroups.Resources, c *specs.LinuxCPU, v2 bool) {
	if c == nil {
		return
	}
	if c.Shares != nil {
		r.CpuShares = *c.Shares
		if v2 {
			r.CpuWeight = cgroups.ConvertCPUSharesToCgroupV2Value(*c.Shares)
		}
	}
	if c.Quota != nil {
		r.CpuQuota = *c.Quota
	}
	r.CpuBurst = c.Burst
	if c.Period != nil {
		r.CpuPeriod = *c.Period
	}
	if c.RealtimeRuntime != nil {
		r.CpuRtRuntime = *c.RealtimeRuntime
	}
	if c.RealtimePeriod != nil {
		r.CpuRtPeriod = *c.RealtimePeriod
	}
	r.CpusetCpus = c.Cpus
	r.CpusetMems = c.Mems
	r.CPUIdle = c.Idle
}

func convertBlockIO(r *cgroups.Resources, b *specs.LinuxBlockIO) {
	if b == nil {
		return
	}
	if b.Weight != nil {
		r.BlkioWeight = *b.Weight
	}
	if b.LeafWeight != nil {
		r.BlkioLeafWeight = *b.LeafWeight
	}
	for _, wd := range b.WeightDevice {
		var w, lw uint16
		if wd.Weight != nil {
			w = *wd.Weight
		}
		if wd.LeafWeight != nil {
			lw = *wd.LeafWeight
		}
		r.BlkioWeightDevice = append(r.BlkioWeightDevice, cgroups.NewWeightDevice(wd.Major, wd.Minor, w, lw))
	}
	throttle := func(in []specs.LinuxThrottleDevice) []*cgroups.ThrottleDevice {
		var out []*cgroups.ThrottleDevice
		for _, td := range in {
			out = append(out, cgroups.NewThrottleDevice(td.Major, td.Minor, td.Rate))
		}
		return out
	}
	r.BlkioThrottleReadBpsDevice = throttle(b.ThrottleReadBpsDevice)
	r.BlkioThrottleWriteBpsDevice = throttle(b.ThrottleWriteBpsDevice)
	r.BlkioThrottleReadIOPSDevice = throttle(b.ThrottleReadIOPSDevice)
	r.BlkioThrottleWriteIOPSDevice = throttle(b.ThrottleWriteIOPSDevice)
}

func convertNetwork(r *cgroups.Resources, n *specs.LinuxNetwork) {
	if n == nil {
		return
	}
	if n.ClassID != nil {
		r.NetClsClassid = *n.ClassID
	}
	for _, p := range n.Priorities {
		r.NetPrioIfpriomap = append(r.NetPrioIfpriomap, &cgroups.IfPrioMap{Interface: p.Name, Priority: int64(p.Priority)})
	}
}

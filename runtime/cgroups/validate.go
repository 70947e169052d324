package cgroups

import (
	"fmt"
	"math"
	"os"
	"slices"
	"strings"

	"github.com/opencontainers/cgroups"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

const resField = "linux.resources"

// Kernel limits the values are checked against. They come from
// kernel/sched/core.c (cpu.shares, cfs quota/period) and
// block/blk-cgroup.h (blkio weights); values outside them are rejected with
// EINVAL, or silently clamped, by the kernel.
const (
	minShares    = 2
	maxShares    = 262144
	minCfsUsec   = 1000    // 1ms
	maxCfsPeriod = 1000000 // 1s
	minBlkWeight = 10
	maxBlkWeight = 1000
	// swappinessUnset is -1 in an int64 field; runc and docker write it to
	// mean "inherit", so it is accepted although it is not in 0-100.
	swappinessUnset = math.MaxUint64
)

// validation describes where the resources are going.
type validation struct {
	v2     bool
	update bool // Set on a running container: unset fields keep their value
	// available reports whether a controller exists for this cgroup; nil
	// skips the check.
	available func(controller string) bool
}

// validate checks res without touching the cgroup filesystem (except to read
// host facts: online CPUs, hugepage sizes), so a bad config is refused before
// anything is created.
func (v validation) validate(res *specs.LinuxResources) error {
	if res == nil {
		return nil
	}
	checks := []func(*specs.LinuxResources) error{
		v.memory, v.cpu, v.pids, v.blockIO, v.hugepages, v.devices,
		v.network, v.rdma, v.unified,
	}
	for _, c := range checks {
		if err := c(res); err != nil {
			return err
		}
	}
	return nil
}

func (v validation) need(field, controller string) error {
	if v.available == nil || v.available(controller) {
		return nil
	}
	return fieldErr(field, "the %s cgroup controller is not available on this host", controller)
}

func checkLimit(field string, p *int64) error {
	if p == nil {
		return nil
	}
	page := int64(os.Getpagesize())
	switch val := *p; {
	case val < -1:
		return fieldErr(field, "%d is not a valid limit (use -1 for unlimited)", val)
	case val > 0 && val < page:
		return fieldErr(field, "%d bytes is below the minimum of one page (%d bytes)", val, page)
	}
	return nil
}

func (v validation) memory(res *specs.LinuxResources) error {
	m := res.Memory
	if m == nil {
		return nil
	}
	f := resField + ".memory"
	if err := v.need(f, "memory"); err != nil {
		return err
	}
	for _, l := range []struct {
		name string
		p    *int64
	}{{"limit", m.Limit}, {"reservation", m.Reservation}, {"swap", m.Swap}} {
		if err := checkLimit(f+"."+l.name, l.p); err != nil {
			return err
		}
	}
	if err := v.swap(f, m); err != nil {
		return err
	}
	if s := m.Swappiness; s != nil && *s > 100 && *s != swappinessUnset {
		return fieldErr(f+".swappiness", "%d is out of range (0-100)", *s)
	}
	return nil
}

// swap checks memory.swap, which the spec defines as the memory+swap total
// (v1's memory.memsw.limit_in_bytes), so it cannot be below memory.limit.
func (v validation) swap(f string, m *specs.LinuxMemory) error {
	if m.Swap == nil || *m.Swap <= 0 {
		return nil
	}
	swap := *m.Swap
	if m.Limit != nil && *m.Limit > 0 && swap < *m.Limit {
		return fieldErr(f+".swap", "%d is less than %s.limit %d (swap is the memory+swap total)", swap, f, *m.Limit)
	}
	if v.update {
		return nil
	}
	// v1 refuses memsw below memory.limit_in_bytes, which is unlimited
	// unless a limit is given; v2 needs the limit to compute swap.max.
	if m.Limit == nil || *m.Limit == 0 || (*m.Limit == -1 && !v.v2) {
		return fieldErr(f+".swap", "a memory+swap limit needs %s.limit to be set", f)
	}
	if !v.v2 && !memswAvailable() {
		return fieldErr(f+".swap", "swap accounting is not enabled on this host (no memory.memsw.limit_in_bytes; boot with swapaccount=1)")
	}
	return nil
}

func (v validation) cpu(res *specs.LinuxResources) error {
	c := res.CPU
	if c == nil {
		return nil
	}
	f := resField + ".cpu"
	if c.Shares != nil || c.Quota != nil || c.Period != nil || c.Burst != nil || c.Idle != nil ||
		c.RealtimePeriod != nil || c.RealtimeRuntime != nil {
		if err := v.need(f, "cpu"); err != nil {
			return err
		}
	}
	if s := c.Shares; s != nil && *s != 0 && (*s < minShares || *s > maxShares) {
		return fieldErr(f+".shares", "%d is out of range (%d-%d)", *s, minShares, maxShares)
	}
	if err := cfsBandwidth(f, c); err != nil {
		return err
	}
	if err := realtime(f, c); err != nil {
		return err
	}
	if i := c.Idle; i != nil && *i != 0 && *i != 1 {
		return fieldErr(f+".idle", "%d is not valid (0 or 1)", *i)
	}
	return v.cpuset(f, c)
}

func cfsBandwidth(f string, c *specs.LinuxCPU) error {
	quotaSet := c.Quota != nil && *c.Quota > 0
	if q := c.Quota; q != nil && (*q < -1 || (*q > 0 && *q < minCfsUsec)) {
		return fieldErr(f+".quota", "%d is not a valid quota (-1 for unlimited, or at least %d microseconds)", *q, minCfsUsec)
	}
	if p := c.Period; p != nil {
		if (*p == 0 && quotaSet) || (*p != 0 && (*p < minCfsUsec || *p > maxCfsPeriod)) {
			return fieldErr(f+".period", "%d is not a valid period (%d-%d microseconds)", *p, minCfsUsec, maxCfsPeriod)
		}
	}
	// kernel/sched/core.c tg_set_cfs_bandwidth: burst may not exceed quota.
	if b := c.Burst; b != nil && *b > 0 && quotaSet && *b > uint64(*c.Quota) {
		return fieldErr(f+".burst", "%d exceeds %s.quota %d", *b, f, *c.Quota)
	}
	return nil
}

func realtime(f string, c *specs.LinuxCPU) error {
	if r := c.RealtimeRuntime; r != nil && *r < -1 {
		return fieldErr(f+".realtimeRuntime", "%d is not a valid runtime (-1 for unlimited)", *r)
	}
	if r, p := c.RealtimeRuntime, c.RealtimePeriod; r != nil && p != nil && *p != 0 && *r > 0 && uint64(*r) > *p {
		return fieldErr(f+".realtimeRuntime", "%d exceeds %s.realtimePeriod %d", *r, f, *p)
	}
	return nil
}

func (v validation) cpuset(f string, c *specs.LinuxCPU) error {
	if c.Cpus == "" && c.Mems == "" {
		return nil
	}
	if err := v.need(f, "cpuset"); err != nil {
		return err
	}
	if c.Cpus != "" {
		if err := checkCPUList(f+".cpus", c.Cpus, "cpu", hostCPUs); err != nil {
			return err
		}
	}
	if c.Mems != "" {
		if err := checkCPUList(f+".mems", c.Mems, "memory node", hostMems); err != nil {
			return err
		}
	}
	return nil
}

func (v validation) pids(res *specs.LinuxResources) error {
	if res.Pids == nil || res.Pids.Limit == nil {
		return nil
	}
	f := resField + ".pids.limit"
	if l := *res.Pids.Limit; l < -1 {
		return fieldErr(f, "%d is not a valid limit (use -1 for unlimited)", l)
	}
	return v.need(f, "pids")
}

func checkWeight(field string, w *uint16) error {
	if w != nil && *w != 0 && (*w < minBlkWeight || *w > maxBlkWeight) {
		return fieldErr(field, "%d is out of range (%d-%d)", *w, minBlkWeight, maxBlkWeight)
	}
	return nil
}

func checkBlkDev(field string, d specs.LinuxBlockIODevice) error {
	if d.Major < 0 || d.Minor < 0 {
		return fieldErr(field, "%d:%d is not a valid device number", d.Major, d.Minor)
	}
	return nil
}

func (v validation) blockIO(res *specs.LinuxResources) error {
	b := res.BlockIO
	if b == nil {
		return nil
	}
	f := resField + ".blockIO"
	if err := v.need(f, v.ioController()); err != nil {
		return err
	}
	if err := checkWeight(f+".weight", b.Weight); err != nil {
		return err
	}
	if err := checkWeight(f+".leafWeight", b.LeafWeight); err != nil {
		return err
	}
	for i, wd := range b.WeightDevice {
		fi := fmt.Sprintf("%s.weightDevice[%d]", f, i)
		if err := checkBlkDev(fi, wd.LinuxBlockIODevice); err != nil {
			return err
		}
		if err := checkWeight(fi+".weight", wd.Weight); err != nil {
			return err
		}
		if err := checkWeight(fi+".leafWeight", wd.LeafWeight); err != nil {
			return err
		}
	}
	for name, list := range map[string][]specs.LinuxThrottleDevice{
		"throttleReadBpsDevice": b.ThrottleReadBpsDevice, "throttleWriteBpsDevice": b.ThrottleWriteBpsDevice,
		"throttleReadIOPSDevice": b.ThrottleReadIOPSDevice, "throttleWriteIOPSDevice": b.ThrottleWriteIOPSDevice,
	} {
		for i, td := range list {
			if err := checkBlkDev(fmt.Sprintf("%s.%s[%d]", f, name, i), td.LinuxBlockIODevice); err != nil {
				return err
			}
		}
	}
	return nil
}

func (v validation) ioController() string {
	if v.v2 {
		return "io"
	}
	return "blkio"
}

func (v validation) hugepages(res *specs.LinuxResources) error {
	if len(res.HugepageLimits) == 0 {
		return nil
	}
	f := resField + ".hugepageLimits"
	sizes := cgroups.HugePageSizes()
	for i, l := range res.HugepageLimits {
		if !slices.Contains(sizes, l.Pagesize) {
			return fieldErr(fmt.Sprintf("%s[%d].pageSize", f, i), "%q is not a huge page size of this host (host has %s)",
				l.Pagesize, orNone(strings.Join(sizes, ", ")))
		}
	}
	return v.need(f, "hugetlb")
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func (v validation) devices(res *specs.LinuxResources) error {
	for i, d := range res.Devices {
		f := fmt.Sprintf("%s.devices[%d]", resField, i)
		if _, err := deviceType(d.Type); err != nil {
			return fieldErr(f+".type", "%q is not a valid device type (want a, b or c)", d.Type)
		}
		if strings.Trim(d.Access, "rwm") != "" {
			return fieldErr(f+".access", "%q is not a valid access (a combination of r, w and m)", d.Access)
		}
		for name, n := range map[string]*int64{"major": d.Major, "minor": d.Minor} {
			if n != nil && *n < -1 {
				return fieldErr(f+"."+name, "%d is not a valid device number (-1 for any)", *n)
			}
		}
	}
	return nil
}

func (v validation) network(res *specs.LinuxResources) error {
	n := res.Network
	if n == nil {
		return nil
	}
	f := resField + ".network"
	if v.v2 && (n.ClassID != nil || len(n.Priorities) > 0) {
		// The net_cls and net_prio controllers only exist in v1.
		return fieldErr(f, "requires cgroup v1 (net_cls and net_prio do not exist in cgroup v2)")
	}
	if n.ClassID != nil {
		if err := v.need(f+".classID", "net_cls"); err != nil {
			return err
		}
	}
	for i, p := range n.Priorities {
		if p.Name == "" {
			return fieldErr(fmt.Sprintf("%s.priorities[%d].name", f, i), "must not be empty")
		}
	}
	if len(n.Priorities) > 0 {
		return v.need(f+".priorities", "net_prio")
	}
	return nil
}

func (v validation) rdma(res *specs.LinuxResources) error {
	if len(res.Rdma) == 0 {
		return nil
	}
	for dev := range res.Rdma {
		if dev == "" || strings.ContainsAny(dev, " \n") {
			return fieldErr(resField+".rdma", "%q is not a valid device name", dev)
		}
	}
	return v.need(resField+".rdma", "rdma")
}

func (v validation) unified(res *specs.LinuxResources) error {
	if len(res.Unified) == 0 {
		return nil
	}
	f := resField + ".unified"
	if !v.v2 {
		return fieldErr(f, "requires cgroup v2")
	}
	for k := range res.Unified {
		if strings.Contains(k, "/") || !strings.Contains(k, ".") || strings.HasPrefix(k, ".") {
			return fieldErr(f, "%q is not a cgroup file name of the form CONTROLLER.PARAMETER", k)
		}
	}
	return nil
}

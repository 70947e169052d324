package cgroups

import (
	"fmt"

	"github.com/opencontainers/cgroups"
)

// Stats is the "data" of `events --stats`, in the JSON shape of runc's
// types/events.go, which containerd's go-runc decodes.
type Stats struct {
	CPU               CPU                 `json:"cpu"`
	CPUSet            CPUSet              `json:"cpuset"`
	Memory            Memory              `json:"memory"`
	Pids              Pids                `json:"pids"`
	Blkio             Blkio               `json:"blkio"`
	Hugetlb           map[string]Hugetlb  `json:"hugetlb"`
	NetworkInterfaces []*NetworkInterface `json:"network_interfaces"`
}

// PSIData is one line of a v2 pressure file.
type PSIData struct {
	Avg10  float64 `json:"avg10"`
	Avg60  float64 `json:"avg60"`
	Avg300 float64 `json:"avg300"`
	Total  uint64  `json:"total"`
}

// PSIStats is a v2 pressure file (cpu.pressure, memory.pressure, io.pressure).
type PSIStats struct {
	Some PSIData `json:"some,omitempty"`
	Full PSIData `json:"full,omitempty"`
}

type Hugetlb struct {
	Usage   uint64 `json:"usage,omitempty"`
	Max     uint64 `json:"max,omitempty"`
	Failcnt uint64 `json:"failcnt"`
}

type BlkioEntry struct {
	Major uint64 `json:"major,omitempty"`
	Minor uint64 `json:"minor,omitempty"`
	Op    string `json:"op,omitempty"`
	Value uint64 `json:"value,omitempty"`
}

type Blkio struct {
	IoServiceBytesRecursive []BlkioEntry `json:"ioServiceBytesRecursive,omitempty"`
	IoServicedRecursive     []BlkioEntry `json:"ioServicedRecursive,omitempty"`
	IoQueuedRecursive       []BlkioEntry `json:"ioQueueRecursive,omitempty"`
	IoServiceTimeRecursive  []BlkioEntry `json:"ioServiceTimeRecursive,omitempty"`
	IoWaitTimeRecursive     []BlkioEntry `json:"ioWaitTimeRecursive,omitempty"`
	IoMergedRecursive       []BlkioEntry `json:"ioMergedRecursive,omitempty"`
	IoTimeRecursive         []BlkioEntry `json:"ioTimeRecursive,omitempty"`
	SectorsRecursive        []BlkioEntry `json:"sectorsRecursive,omitempty"`
	PSI                     *PSIStats    `json:"psi,omitempty"`
}

type Pids struct {
	Current uint64 `json:"current,omitempty"`
	Limit   uint64 `json:"limit,omitempty"`
}

type Throttling struct {
	Periods          uint64 `json:"periods,omitempty"`
	ThrottledPeriods uint64 `json:"throttledPeriods,omitempty"`
	ThrottledTime    uint64 `json:"throttledTime,omitempty"`
}

// CPUUsage times are in nanoseconds.
type CPUUsage struct {
	Total        uint64   `json:"total,omitempty"`
	Percpu       []uint64 `json:"percpu,omitempty"`
	PercpuKernel []uint64 `json:"percpu_kernel,omitempty"`
	PercpuUser   []uint64 `json:"percpu_user,omitempty"`
	Kernel       uint64   `json:"kernel"`
	User         uint64   `json:"user"`
}

type CPU struct {
	Usage      CPUUsage   `json:"usage,omitempty"`
	Throttling Throttling `json:"throttling,omitempty"`
	PSI        *PSIStats  `json:"psi,omitempty"`
}

type CPUSet struct {
	CPUs                  []uint16 `json:"cpus,omitempty"`
	CPUExclusive          uint64   `json:"cpu_exclusive"`
	Mems                  []uint16 `json:"mems,omitempty"`
	MemHardwall           uint64   `json:"mem_hardwall"`
	MemExclusive          uint64   `json:"mem_exclusive"`
	MemoryMigrate         uint64   `json:"memory_migrate"`
	MemorySpreadPage      uint64   `json:"memory_spread_page"`
	MemorySpreadSlab      uint64   `json:"memory_spread_slab"`
	MemoryPressure        uint64   `json:"memory_pressure"`
	SchedLoadBalance      uint64   `json:"sched_load_balance"`
	SchedRelaxDomainLevel int64    `json:"sched_relax_domain_level"`
}

type MemoryEntry struct {
	Limit   uint64 `json:"limit"`
	Usage   uint64 `json:"usage,omitempty"`
	Max     uint64 `json:"max,omitempty"`
	Failcnt uint64 `json:"failcnt"`
}

type Memory struct {
	Cache     uint64            `json:"cache,omitempty"`
	Usage     MemoryEntry       `json:"usage,omitempty"`
	Swap      MemoryEntry       `json:"swap,omitempty"`
	Kernel    MemoryEntry       `json:"kernel,omitempty"`
	KernelTCP MemoryEntry       `json:"kernelTCP,omitempty"`
	Raw       map[string]uint64 `json:"raw,omitempty"`
	PSI       *PSIStats         `json:"psi,omitempty"`
}

// NetworkInterface is filled by the runtime (it knows the interfaces); the
// cgroup has no network counters. Field names carry no tags, as in runc.
type NetworkInterface struct {
	Name      string
	RxBytes   uint64
	RxPackets uint64
	RxErrors  uint64
	RxDropped uint64
	TxBytes   uint64
	TxPackets uint64
	TxErrors  uint64
	TxDropped uint64
}

// Stats reads the cgroup's counters.
func (m *Manager) Stats() (*Stats, error) {
	if !m.Exists() {
		return nil, fmt.Errorf("stats of %s: cgroup does not exist", m.name())
	}
	s, err := m.mgr.GetStats()
	if err != nil {
		return nil, fmt.Errorf("stats of %s: %w", m.name(), err)
	}
	return convertStats(s), nil
}

func convertStats(s *cgroups.Stats) *Stats {
	u := s.CpuStats.CpuUsage
	t := s.CpuStats.ThrottlingData
	out := &Stats{
		CPU: CPU{
			Usage: CPUUsage{Total: u.TotalUsage, Percpu: u.PercpuUsage, PercpuKernel: u.PercpuUsageInKernelmode,
				PercpuUser: u.PercpuUsageInUsermode, Kernel: u.UsageInKernelmode, User: u.UsageInUsermode},
			Throttling: Throttling{Periods: t.Periods, ThrottledPeriods: t.ThrottledPeriods, ThrottledTime: t.ThrottledTime},
			PSI:        convertPSI(s.CpuStats.PSI),
		},
		CPUSet: CPUSet(s.CPUSetStats),
		Memory: Memory{
			Cache:     s.MemoryStats.Cache,
			Usage:     convertMemoryEntry(s.MemoryStats.Usage),
			Swap:      convertMemoryEntry(s.MemoryStats.SwapUsage),
			Kernel:    convertMemoryEntry(s.MemoryStats.KernelUsage),
			KernelTCP: convertMemoryEntry(s.MemoryStats.KernelTCPUsage),
			Raw:       s.MemoryStats.Stats,
			PSI:       convertPSI(s.MemoryStats.PSI),
		},
		Pids:    Pids{Current: s.PidsStats.Current, Limit: s.PidsStats.Limit},
		Blkio:   convertBlkio(&s.BlkioStats),
		Hugetlb: make(map[string]Hugetlb, len(s.HugetlbStats)),
	}
	for size, h := range s.HugetlbStats {
		out.Hugetlb[size] = Hugetlb{Usage: h.Usage, Max: h.MaxUsage, Failcnt: h.Failcnt}
	}
	return out
}

func convertPSI(p *cgroups.PSIStats) *PSIStats {
	if p == nil {
		return nil
	}
	return &PSIStats{Some: PSIData(p.Some), Full: PSIData(p.Full)}
}

func convertMemoryEntry(d cgroups.MemoryData) MemoryEntry {
	return MemoryEntry{Limit: d.Limit, Usage: d.Usage, Max: d.MaxUsage, Failcnt: d.Failcnt}
}

func convertBlkio(b *cgroups.BlkioStats) Blkio {
	conv := func(in []cgroups.BlkioStatEntry) []BlkioEntry {
		var out []BlkioEntry
		for _, e := range in {
			out = append(out, BlkioEntry(e))
		}
		return out
	}
	return Blkio{
		IoServiceBytesRecursive: conv(b.IoServiceBytesRecursive),
		IoServicedRecursive:     conv(b.IoServicedRecursive),
		IoQueuedRecursive:       conv(b.IoQueuedRecursive),
		IoServiceTimeRecursive:  conv(b.IoServiceTimeRecursive),
		IoWaitTimeRecursive:     conv(b.IoWaitTimeRecursive),
		IoMergedRecursive:       conv(b.IoMergedRecursive),
		IoTimeRecursive:         conv(b.IoTimeRecursive),
		SectorsRecursive:        conv(b.SectorsRecursive),
		PSI:                     convertPSI(b.PSI),
	}
}

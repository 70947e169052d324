package runtime

import (
	"encoding/json"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func p[T any](v T) *T { return &v }

func TestMergeResources(t *testing.T) {
	old := &specs.LinuxResources{
		Devices:        []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
		Memory:         &specs.LinuxMemory{Limit: p(int64(64 << 20)), Swap: p(int64(64 << 20)), Swappiness: p(uint64(10))},
		CPU:            &specs.LinuxCPU{Quota: p(int64(20000)), Period: p(uint64(100000)), Cpus: "0"},
		Pids:           &specs.LinuxPids{Limit: p(int64(50))},
		HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 1 << 21}},
		Unified:        map[string]string{"memory.high": "1"},
	}
	before, _ := json.Marshal(old)
	upd := &specs.LinuxResources{
		// Zeros and empty strings mean unchanged, as in runc update.
		Memory:         &specs.LinuxMemory{Limit: p(int64(128 << 20)), Swap: p(int64(0)), Swappiness: p(uint64(0))},
		CPU:            &specs.LinuxCPU{Quota: p(int64(0)), Period: p(uint64(50000)), Cpus: ""},
		Pids:           &specs.LinuxPids{Limit: p(int64(0))},
		BlockIO:        &specs.LinuxBlockIO{Weight: p(uint16(300))},
		HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 1 << 22}, {Pagesize: "1GB", Limit: 1 << 30}},
		Unified:        map[string]string{"memory.max": "2"},
		Devices:        []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}},
	}
	got := mergeResources(old, upd)
	if after, _ := json.Marshal(old); string(after) != string(before) {
		t.Errorf("merge modified the stored resources:\n%s\n%s", before, after)
	}
	m, c := got.Memory, got.CPU
	if *m.Limit != 128<<20 || *m.Swap != 64<<20 || *m.Swappiness != 0 {
		t.Errorf("memory merged wrong: limit %d swap %d swappiness %d", *m.Limit, *m.Swap, *m.Swappiness)
	}
	if *c.Quota != 20000 || *c.Period != 50000 || c.Cpus != "0" {
		t.Errorf("cpu merged wrong: %+v", c)
	}
	if *got.Pids.Limit != 50 || got.BlockIO == nil || *got.BlockIO.Weight != 300 {
		t.Errorf("pids/blockIO merged wrong: %+v %+v", got.Pids, got.BlockIO)
	}
	if len(got.HugepageLimits) != 2 || got.HugepageLimits[0].Limit != 1<<22 || got.HugepageLimits[1].Pagesize != "1GB" {
		t.Errorf("hugepages merged wrong: %+v", got.HugepageLimits)
	}
	if got.Unified["memory.high"] != "1" || got.Unified["memory.max"] != "2" {
		t.Errorf("unified merged wrong: %v", got.Unified)
	}
	if len(got.Devices) != 1 || got.Devices[0].Allow {
		t.Errorf("devices must not be updatable: %+v", got.Devices)
	}
}

func TestForSet(t *testing.T) {
	merged := &specs.LinuxResources{
		Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
		Memory:  &specs.LinuxMemory{Limit: p(int64(1 << 20)), CheckBeforeUpdate: p(true)},
	}
	r := forSet(merged, &specs.LinuxResources{})
	if r.Devices != nil || r.Memory.CheckBeforeUpdate != nil || *r.Memory.Limit != 1<<20 {
		t.Errorf("forSet: %+v %+v", r, r.Memory)
	}
	if merged.Devices == nil || merged.Memory.CheckBeforeUpdate == nil {
		t.Error("forSet modified its input")
	}
	req := &specs.LinuxResources{Memory: &specs.LinuxMemory{CheckBeforeUpdate: p(true)}}
	if r := forSet(merged, req); r.Memory.CheckBeforeUpdate == nil || !*r.Memory.CheckBeforeUpdate {
		t.Error("forSet dropped the request's checkBeforeUpdate")
	}
}

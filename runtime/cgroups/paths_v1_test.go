package cgroups

import (
	"maps"
	"testing"

	"github.com/moby/sys/mountinfo"
	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/cgroups/manager"
)

// TestV1PathsMatchLibrary: on a v1 host, the paths are the ones the fs
// driver computes by itself.
func TestV1PathsMatchLibrary(t *testing.T) {
	if IsV2() {
		t.Skip("cgroup v1 only")
	}
	for _, skip := range []bool{false, true} {
		cg := &cgroups.Cgroup{Path: "/gocker/pathtest", Resources: &cgroups.Resources{SkipDevices: skip}}
		lib, err := manager.New(cg)
		if err != nil {
			t.Fatal(err)
		}
		got, _, err := v1Paths(cg.Path, skip)
		if err != nil {
			t.Fatal(err)
		}
		if want := lib.GetPaths(); !maps.Equal(got, want) {
			t.Errorf("skipDevices=%v:\n got  %v\n want %v", skip, got, want)
		}
	}
}

func TestV1PathsFrom(t *testing.T) {
	mi := func(mp, fs, opts string) *mountinfo.Info {
		return &mountinfo.Info{Mountpoint: mp, FSType: fs, VFSOptions: opts}
	}
	tmpfs := mi("/sys/fs/cgroup", "tmpfs", "rw")
	cases := []struct {
		name   string
		mounts []*mountinfo.Info
		skip   bool
		hybrid bool
		want   map[string]string
		err    bool
	}{{
		name: "joint cpu,cpuacct and a named hierarchy",
		mounts: []*mountinfo.Info{tmpfs,
			mi("/sys/fs/cgroup/cpu,cpuacct", "cgroup", "rw,cpu,cpuacct"),
			mi("/sys/fs/cgroup/devices", "cgroup", "rw,devices"),
			mi("/sys/fs/cgroup/systemd", "cgroup", "rw,xattr,name=systemd"),
			mi("/sys/fs/cgroup/unified", "cgroup2", "rw,nsdelegate")},
		hybrid: true,
		want: map[string]string{"": "/sys/fs/cgroup/unified/x",
			"cpu": "/sys/fs/cgroup/cpu,cpuacct/x", "cpuacct": "/sys/fs/cgroup/cpu,cpuacct/x",
			"devices": "/sys/fs/cgroup/devices/x", "name=systemd": "/sys/fs/cgroup/systemd/x"},
	}, {
		name: "no tmpfs root: the first cgroup mount's directory; mounts outside it are ignored",
		mounts: []*mountinfo.Info{
			mi("/cg/devices", "cgroup", "rw,devices"),
			mi("/elsewhere/memory", "cgroup", "rw,memory")},
		want: map[string]string{"devices": "/cg/devices/x"},
	}, {
		name:   "devices missing is an error",
		mounts: []*mountinfo.Info{tmpfs, mi("/sys/fs/cgroup/memory", "cgroup", "rw,memory")},
		err:    true,
	}, {
		name:   "devices missing with SkipDevices",
		mounts: []*mountinfo.Info{tmpfs, mi("/sys/fs/cgroup/memory", "cgroup", "rw,memory")},
		skip:   true,
		want:   map[string]string{"memory": "/sys/fs/cgroup/memory/x"},
	}, {
		name:   "no v1 hierarchy",
		mounts: []*mountinfo.Info{mi("/sys/fs/cgroup", "cgroup2", "rw")},
		err:    true,
	}}
	for _, c := range cases {
		got, err := v1PathsFrom(c.mounts, "/x", c.skip, c.hybrid)
		if (err != nil) != c.err {
			t.Errorf("%s: err %v, want error %v", c.name, err, c.err)
			continue
		}
		if !c.err && !maps.Equal(got, c.want) {
			t.Errorf("%s:\n got  %v\n want %v", c.name, got, c.want)
		}
	}
}

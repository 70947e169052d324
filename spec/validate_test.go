package spec

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func i64(v int64) *int64 { return &v }
func ip(v int) *int      { return &v }

func addNS(s *specs.Spec, t specs.LinuxNamespaceType, path string) {
	s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: t, Path: path})
}

func dropNS(s *specs.Spec, t specs.LinuxNamespaceType) {
	var out []specs.LinuxNamespace
	for _, ns := range s.Linux.Namespaces {
		if ns.Type != t {
			out = append(out, ns)
		}
	}
	s.Linux.Namespaces = out
}

func withUserNS(s *specs.Spec) {
	addNS(s, specs.UserNamespace, "")
	s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
}

func TestValidateErrors(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*specs.Spec)
		want   string // exact Error()
	}{
		{"nil root", func(s *specs.Spec) { s.Root = nil }, "root.path: must be set"},
		{"empty root path", func(s *specs.Spec) { s.Root.Path = "" }, "root.path: must be set"},
		{"old version", func(s *specs.Spec) { s.Version = "0.6.0" }, `ociVersion "0.6.0" is not supported (want 1.x)`},
		{"empty args", func(s *specs.Spec) { s.Process.Args = nil }, "process.args: must not be empty"},
		{"relative cwd", func(s *specs.Spec) { s.Process.Cwd = "home" }, `process.cwd: must be an absolute path, got "home"`},
		{"empty cwd", func(s *specs.Spec) { s.Process.Cwd = "" }, `process.cwd: must be an absolute path, got ""`},
		{"env without =", func(s *specs.Spec) { s.Process.Env = append(s.Process.Env, "FOO") },
			`process.env[2]: "FOO" is not in KEY=value form`},
		{"env empty name", func(s *specs.Spec) { s.Process.Env = []string{"=x"} }, `process.env[0]: "=x" has an empty name`},
		{"env NUL", func(s *specs.Spec) { s.Process.Env = []string{"A=b\x00c"} }, `process.env[0]: "A=b\x00c" contains a NUL byte`},
		{"unknown rlimit", func(s *specs.Spec) {
			s.Process.Rlimits = append(s.Process.Rlimits, specs.POSIXRlimit{Type: "RLIMIT_FOO", Hard: 1, Soft: 1})
		}, `process.rlimits[1].type: unknown rlimit "RLIMIT_FOO"`},
		{"lowercase rlimit", func(s *specs.Spec) { s.Process.Rlimits[0].Type = "nofile" },
			`process.rlimits[0].type: unknown rlimit "nofile"`},
		{"duplicate rlimit", func(s *specs.Spec) {
			s.Process.Rlimits = append(s.Process.Rlimits,
				specs.POSIXRlimit{Type: "RLIMIT_CORE"}, specs.POSIXRlimit{Type: "RLIMIT_NOFILE", Hard: 5, Soft: 5})
		}, "process.rlimits[2].type: duplicate RLIMIT_NOFILE (also at process.rlimits[0])"},
		{"soft above hard", func(s *specs.Spec) { s.Process.Rlimits[0].Soft = 2048 },
			"process.rlimits[0]: soft limit 2048 exceeds hard limit 1024"},
		{"unknown bounding cap", func(s *specs.Spec) {
			s.Process.Capabilities.Bounding = append(s.Process.Capabilities.Bounding, "CAP_FOO")
		}, `process.capabilities.bounding: unknown capability "CAP_FOO"`},
		{"cap without prefix", func(s *specs.Spec) { s.Process.Capabilities.Ambient = []string{"NET_ADMIN"} },
			`process.capabilities.ambient: unknown capability "NET_ADMIN"`},
		{"lowercase cap", func(s *specs.Spec) { s.Process.Capabilities.Inheritable = []string{"cap_kill"} },
			`process.capabilities.inheritable: unknown capability "cap_kill"`},
		{"oom score", func(s *specs.Spec) { s.Process.OOMScoreAdj = ip(1001) },
			"process.oomScoreAdj: 1001 is out of range [-1000, 1000]"},
		{"io priority class", func(s *specs.Spec) { s.Process.IOPriority = &specs.LinuxIOPriority{Class: "RT"} },
			`process.ioPriority.class: unknown class "RT" (want IOPRIO_CLASS_RT, IOPRIO_CLASS_BE or IOPRIO_CLASS_IDLE)`},
		{"io priority level", func(s *specs.Spec) {
			s.Process.IOPriority = &specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_BE, Priority: 8}
		}, "process.ioPriority.priority: 8 is out of range [0, 7]"},
		{"sched policy", func(s *specs.Spec) { s.Process.Scheduler = &specs.Scheduler{Policy: "SCHED_FAST"} },
			`process.scheduler.policy: unknown policy "SCHED_FAST"`},
		{"sched nice", func(s *specs.Spec) { s.Process.Scheduler = &specs.Scheduler{Policy: specs.SchedOther, Nice: 20} },
			"process.scheduler.nice: 20 is out of range [-20, 19]"},
		{"empty mount destination", func(s *specs.Spec) { s.Mounts[3].Destination = "" },
			"mounts[3].destination: must not be empty"},
		{"relative hook", func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{Poststop: []specs.Hook{{Path: "/bin/true"}, {Path: "cleanup.sh"}}}
		}, `hooks.poststop[1].path: must be an absolute path, got "cleanup.sh"`},
		{"relative prestart hook", func(s *specs.Spec) { s.Hooks = &specs.Hooks{Prestart: []specs.Hook{{Path: ""}}} },
			`hooks.prestart[0].path: must be an absolute path, got ""`},
		{"hook timeout", func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/h", Timeout: ip(0)}}}
		}, "hooks.createRuntime[0].timeout: must be greater than zero, got 0"},
		{"hostname without uts", func(s *specs.Spec) { dropNS(s, specs.UTSNamespace) },
			"hostname: needs a uts namespace in linux.namespaces"},
		{"hostname without linux", func(s *specs.Spec) { s.Linux = nil },
			"hostname: needs a uts namespace in linux.namespaces"},
		{"domainname without uts", func(s *specs.Spec) { dropNS(s, specs.UTSNamespace); s.Hostname = ""; s.Domainname = "x" },
			"domainname: needs a uts namespace in linux.namespaces"},
		{"unknown namespace", func(s *specs.Spec) { addNS(s, "net", "") },
			`linux.namespaces[5].type: unknown namespace type "net"`},
		{"duplicate namespace", func(s *specs.Spec) { addNS(s, specs.PIDNamespace, "/proc/1/ns/pid") },
			`linux.namespaces[5]: duplicate "pid" namespace (also at linux.namespaces[0])`},
		{"relative namespace path", func(s *specs.Spec) { s.Linux.Namespaces[1].Path = "netns" },
			`linux.namespaces[1].path: must be an absolute path, got "netns"`},
		{"uid mappings without userns", func(s *specs.Spec) {
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{HostID: 1000, Size: 1}}
		}, "linux.uidMappings: mappings need a user namespace"},
		{"gid mappings without userns", func(s *specs.Spec) {
			s.Linux.GIDMappings = []specs.LinuxIDMapping{{HostID: 1000, Size: 1}}
		}, "linux.gidMappings: mappings need a user namespace"},
		{"new userns without mappings", func(s *specs.Spec) { addNS(s, specs.UserNamespace, "") },
			"linux.namespaces[5]: a new user namespace needs linux.uidMappings and linux.gidMappings"},
		{"new userns without gid mappings", func(s *specs.Spec) { withUserNS(s); s.Linux.GIDMappings = nil },
			"linux.namespaces[5]: a new user namespace needs linux.uidMappings and linux.gidMappings"},
		{"zero size mapping", func(s *specs.Spec) {
			withUserNS(s)
			s.Linux.GIDMappings = append(s.Linux.GIDMappings, specs.LinuxIDMapping{ContainerID: 70000, HostID: 5})
		}, "linux.gidMappings[1].size: must be greater than zero"},
		{"overlapping container ranges", func(s *specs.Spec) {
			withUserNS(s)
			s.Linux.UIDMappings = append(s.Linux.UIDMappings, specs.LinuxIDMapping{ContainerID: 65535, HostID: 0, Size: 2})
		}, "linux.uidMappings[1]: containerID range 65535-65536 overlaps linux.uidMappings[0]"},
		{"overlapping host ranges", func(s *specs.Spec) {
			withUserNS(s)
			s.Linux.UIDMappings = append(s.Linux.UIDMappings, specs.LinuxIDMapping{ContainerID: 65536, HostID: 99999, Size: 2})
		}, "linux.uidMappings[1]: hostID range 99999-100000 overlaps linux.uidMappings[0]"},
		{"mapping overflow", func(s *specs.Spec) {
			withUserNS(s)
			s.Linux.UIDMappings[0] = specs.LinuxIDMapping{ContainerID: 0, HostID: 4294967295, Size: 2}
		}, "linux.uidMappings[0]: range of size 2 overflows 32-bit ids"},
		{"too many mappings", func(s *specs.Spec) {
			withUserNS(s)
			s.Linux.UIDMappings = nil
			for i := uint32(0); i < 341; i++ {
				s.Linux.UIDMappings = append(s.Linux.UIDMappings, specs.LinuxIDMapping{ContainerID: i, HostID: 1000 + i, Size: 1})
			}
		}, "linux.uidMappings: 341 mappings, the kernel accepts at most 340"},
		{"device type", func(s *specs.Spec) {
			s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/null", Type: "x", Major: 1, Minor: 3}}
		}, `linux.devices[0].type: must be one of c, b, u, p, got "x"`},
		{"device relative path", func(s *specs.Spec) {
			s.Linux.Devices = []specs.LinuxDevice{{Path: "dev/null", Type: "c", Major: 1, Minor: 3}}
		}, `linux.devices[0].path: must be an absolute path, got "dev/null"`},
		{"device negative major", func(s *specs.Spec) {
			s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/x", Type: "b", Major: -1}}
		}, "linux.devices[0]: major and minor must not be negative"},
		{"device rule type", func(s *specs.Spec) { s.Linux.Resources.Devices[0].Type = "u" },
			`linux.resources.devices[0].type: must be one of a, b, c, got "u"`},
		{"device rule access", func(s *specs.Spec) { s.Linux.Resources.Devices[0].Access = "rwx" },
			`linux.resources.devices[0].access: must be made of r, w and m, got "rwx"`},
		{"net sysctl without netns", func(s *specs.Spec) {
			dropNS(s, specs.NetworkNamespace)
			s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1"}
		}, `linux.sysctl["net.ipv4.ip_forward"]: not allowed in the host's network namespace (add a network namespace)`},
		{"ipc sysctl without ipcns", func(s *specs.Spec) {
			dropNS(s, specs.IPCNamespace)
			s.Linux.Sysctl = map[string]string{"kernel.shmmax": "1"}
		}, `linux.sysctl["kernel.shmmax"]: not allowed in the host's ipc namespace (add an ipc namespace)`},
		{"mqueue sysctl without ipcns", func(s *specs.Spec) {
			dropNS(s, specs.IPCNamespace)
			s.Linux.Sysctl = map[string]string{"fs.mqueue.msg_max": "20"}
		}, `linux.sysctl["fs.mqueue.msg_max"]: not allowed in the host's ipc namespace (add an ipc namespace)`},
		{"domainname sysctl without uts", func(s *specs.Spec) {
			dropNS(s, specs.UTSNamespace)
			s.Hostname = ""
			s.Linux.Sysctl = map[string]string{"kernel.domainname": "x"}
		}, `linux.sysctl["kernel.domainname"]: not allowed in the host's uts namespace (add a uts namespace)`},
		{"hostname sysctl", func(s *specs.Spec) { s.Linux.Sysctl = map[string]string{"kernel.hostname": "x"} },
			`linux.sysctl["kernel.hostname"]: conflicts with the hostname field, use that instead`},
		{"host-wide sysctl", func(s *specs.Spec) { s.Linux.Sysctl = map[string]string{"vm.swappiness": "1"} },
			`linux.sysctl["vm.swappiness"]: is not namespaced by the kernel, setting it would change the host`},
		{"sysctl errors are deterministic", func(s *specs.Spec) {
			s.Linux.Sysctl = map[string]string{"vm.b": "1", "vm.a": "1", "vm.c": "1", "kernel.sem": "1"}
		}, `linux.sysctl["vm.a"]: is not namespaced by the kernel, setting it would change the host`},
		{"time offsets without timens", func(s *specs.Spec) {
			s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"monotonic": {Secs: 10}}
		}, "linux.timeOffsets: needs a time namespace"},
		{"time offsets on joined timens", func(s *specs.Spec) {
			addNS(s, specs.TimeNamespace, "/proc/1/ns/time")
			s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"boottime": {Secs: 10}}
		}, `linux.timeOffsets: cannot be applied to a joined time namespace ("/proc/1/ns/time")`},
		{"time offsets unknown clock", func(s *specs.Spec) {
			addNS(s, specs.TimeNamespace, "")
			s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"realtime": {Secs: 10}}
		}, `linux.timeOffsets.realtime: unknown clock (want monotonic or boottime)`},
		{"relative masked path", func(s *specs.Spec) { s.Linux.MaskedPaths = append(s.Linux.MaskedPaths, "proc/kmsg") },
			`linux.maskedPaths[10]: must be an absolute path, got "proc/kmsg"`},
		{"relative readonly path", func(s *specs.Spec) { s.Linux.ReadonlyPaths[0] = "bus" },
			`linux.readonlyPaths[0]: must be an absolute path, got "bus"`},
		{"masked paths without mntns", func(s *specs.Spec) { dropNS(s, specs.MountNamespace) },
			"linux.maskedPaths: needs a mount namespace"},
		{"propagation", func(s *specs.Spec) { s.Linux.RootfsPropagation = "recursive" },
			`linux.rootfsPropagation: unknown propagation "recursive"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Default()
			tt.mutate(s)
			err := Validate(s, "")
			if err == nil {
				t.Fatalf("Validate succeeded, want %q", tt.want)
			}
			if err.Error() != tt.want {
				t.Fatalf("error\n got: %s\nwant: %s", err, tt.want)
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Errorf("error is %T, want *FieldError", err)
			}
		})
	}
}

func TestValidateAccepts(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*specs.Spec)
	}{
		{"default", func(*specs.Spec) {}},
		{"no process", func(s *specs.Spec) { s.Process = nil }},
		{"no linux, no hostname", func(s *specs.Spec) { s.Linux = nil; s.Hostname = "" }},
		{"joined uts with hostname", func(s *specs.Spec) { s.Linux.Namespaces[3].Path = "/proc/1/ns/uts" }},
		{"user namespace with mappings", withUserNS},
		{"joined user namespace without mappings", func(s *specs.Spec) { addNS(s, specs.UserNamespace, "/proc/1/ns/user") }},
		{"adjacent mappings", func(s *specs.Spec) {
			withUserNS(s)
			s.Linux.UIDMappings = append(s.Linux.UIDMappings, specs.LinuxIDMapping{ContainerID: 65536, HostID: 165536, Size: 1})
		}},
		{"mapping up to the last id", func(s *specs.Spec) {
			withUserNS(s)
			s.Linux.UIDMappings[0] = specs.LinuxIDMapping{ContainerID: 0, HostID: 4294967294, Size: 2}
		}},
		{"namespaced sysctls", func(s *specs.Spec) {
			s.Linux.Sysctl = map[string]string{
				"net.ipv4.ip_forward": "1", "kernel.shmmax": "1", "kernel.msgmax": "8192",
				"fs.mqueue.queues_max": "10", "kernel.domainname": "example",
			}
		}},
		{"net sysctl in a joined netns (not checked without bundle)", func(s *specs.Spec) {
			s.Linux.Namespaces[1].Path = "/proc/self/ns/net"
			s.Linux.Sysctl = map[string]string{"net.core.somaxconn": "1024"}
		}},
		{"time namespace", func(s *specs.Spec) {
			addNS(s, specs.TimeNamespace, "")
			s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"monotonic": {Secs: -5}, "boottime": {Nanosecs: 1}}
		}},
		{"cgroup and time namespaces", func(s *specs.Spec) { addNS(s, specs.CgroupNamespace, ""); addNS(s, specs.TimeNamespace, "") }},
		{"all capabilities", func(s *specs.Spec) {
			s.Process.Capabilities.Bounding = []string{"CAP_SYS_ADMIN", "CAP_BPF", "CAP_PERFMON", "CAP_CHECKPOINT_RESTORE", "CAP_CHOWN"}
		}},
		{"devices", func(s *specs.Spec) {
			s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/fuse", Type: "c", Major: 10, Minor: 229}, {Path: "/dev/p", Type: "p"}}
			s.Linux.Resources.Devices = append(s.Linux.Resources.Devices, specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: i64(10), Access: "rw"})
		}},
		{"hooks", func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/bin/true", Timeout: ip(5)}}, StartContainer: []specs.Hook{{Path: "/x"}}}
		}},
		{"every rlimit", func(s *specs.Spec) {
			s.Process.Rlimits = nil
			for r := range rlimitTypes {
				s.Process.Rlimits = append(s.Process.Rlimits, specs.POSIXRlimit{Type: r, Soft: 1, Hard: 1})
			}
		}},
		{"recursive propagation", func(s *specs.Spec) { s.Linux.RootfsPropagation = "rslave" }},
		{"io priority and scheduler", func(s *specs.Spec) {
			s.Process.IOPriority = &specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_IDLE, Priority: 7}
			s.Process.Scheduler = &specs.Scheduler{Policy: specs.SchedBatch, Nice: -20}
			s.Process.OOMScoreAdj = ip(-1000)
		}},
		{"rootless", func(s *specs.Spec) { MakeRootless(s, 1000, 1000) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Default()
			tt.mutate(s)
			if err := Validate(s, ""); err != nil {
				t.Fatalf("Validate: %v", err)
			}
		})
	}
}

func TestValidateNilSpec(t *testing.T) {
	if err := Validate(nil, ""); err == nil || err.Error() != "spec is nil" {
		t.Fatalf("got %v", err)
	}
}

func TestValidateFilesystem(t *testing.T) {
	bundle := t.TempDir()
	if err := os.Mkdir(filepath.Join(bundle, "rootfs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := Validate(Default(), bundle); err != nil {
		t.Fatalf("valid bundle rejected: %v", err)
	}

	s := Default()
	s.Root.Path = "/nonexistent/gocker-test-rootfs"
	want := `root.path: rootfs "/nonexistent/gocker-test-rootfs" does not exist`
	if err := Validate(s, bundle); err == nil || err.Error() != want {
		t.Errorf("got %v, want %q", err, want)
	}
	if err := Validate(s, ""); err != nil {
		t.Errorf("bundle \"\" must skip filesystem checks, got %v", err)
	}

	// A net sysctl in a netns that is in fact the host's own would change
	// the host (runc checks this too).
	s = Default()
	s.Linux.Namespaces[1].Path = "/proc/self/ns/net"
	s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1"}
	err := Validate(s, bundle)
	if err == nil || !strings.Contains(err.Error(), `linux.sysctl["net.ipv4.ip_forward"]: not allowed: linux.namespaces joins the host's network namespace "/proc/self/ns/net"`) {
		t.Errorf("host netns sysctl: got %v", err)
	}
	// A path that cannot be opened is left for the namespace code to report.
	s.Linux.Namespaces[1].Path = "/nonexistent/gocker-test-netns"
	if err := Validate(s, bundle); err != nil {
		t.Errorf("unreadable netns path: %v", err)
	}
}

func TestParentPath(t *testing.T) {
	for in, want := range map[string]string{
		"process.args[1]":                     "process.args",
		"process.args":                        "process",
		"process":                             "",
		`linux.sysctl["net.ipv4.ip_forward"]`: "linux.sysctl",
		`annotations["a[b].c"]`:               "annotations",
		"linux.resources.devices[0].access":   "linux.resources.devices[0]",
		"":                                    "",
	} {
		if got := parentPath(in); got != want {
			t.Errorf("parentPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLineCol(t *testing.T) {
	data := []byte("ab\ncd\n\nx")
	for off, want := range map[int]string{0: "1:1", 1: "1:2", 2: "1:3", 3: "2:1", 6: "3:1", 7: "4:1", 8: "4:2", 99: "4:2", -1: "1:1"} {
		if got := lineCol(data, off).String(); got != want {
			t.Errorf("lineCol(%d) = %s, want %s", off, got, want)
		}
	}
}

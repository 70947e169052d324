package integration

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// nsLinks reads "name link" lines printed by nsScript into a map.
func nsLinks(lines []string) map[string]string {
	m := map[string]string{}
	for _, l := range lines {
		if k, v, ok := strings.Cut(l, " "); ok {
			m[k] = v
		}
	}
	return m
}

func nsScript(names []string) string {
	return fmt.Sprintf(`for n in %s; do echo "$n $(readlink /proc/self/ns/$n)"; done`, strings.Join(names, " "))
}

func hostNS(t *testing.T, name string) string {
	t.Helper()
	l, err := os.Readlink("/proc/self/ns/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestNamespacesNew: each namespace listed without a path is new
// (runtime-spec config-linux.md "Namespaces"); each one not listed is the
// runtime's own.
func TestNamespacesNew(t *testing.T) {
	all := []string{"pid", "net", "ipc", "uts", "mnt", "cgroup"}
	t.Run("all", func(t *testing.T) {
		e := newEnv(t)
		got := nsLinks(e.runLines(nsScript(all), func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.CgroupNamespace})
		}))
		for _, n := range all {
			if got[n] == "" || got[n] == hostNS(t, n) {
				t.Errorf("namespace %s: container %q, host %q; want a new one", n, got[n], hostNS(t, n))
			}
		}
	})
	t.Run("shared", func(t *testing.T) {
		e := newEnv(t)
		got := nsLinks(e.runLines(nsScript(all), func(s *specs.Spec) {
			dropNS(specs.UTSNamespace, specs.IPCNamespace, specs.NetworkNamespace)(s)
			s.Hostname = "" // sethostname needs a private UTS namespace
		}))
		for _, n := range []string{"uts", "ipc", "net", "cgroup"} {
			if got[n] != hostNS(t, n) {
				t.Errorf("namespace %s not requested: container %q, want the host's %q", n, got[n], hostNS(t, n))
			}
		}
		for _, n := range []string{"pid", "mnt"} {
			if got[n] == hostNS(t, n) {
				t.Errorf("namespace %s requested but shared with the host", n)
			}
		}
	})
}

// TestJoinNetns: a namespace with a path is joined, not created.
func TestJoinNetns(t *testing.T) {
	e := newEnv(t)
	name := "gocker-test-" + randHex(4)
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	e.netns = append(e.netns, name)
	path := "/run/netns/" + name
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	got := e.runLines("readlink /proc/self/ns/net", func(s *specs.Spec) {
		for i := range s.Linux.Namespaces {
			if s.Linux.Namespaces[i].Type == specs.NetworkNamespace {
				s.Linux.Namespaces[i].Path = path
			}
		}
	})
	if want := fmt.Sprintf("net:[%d]", st.Ino); len(got) != 1 || got[0] != want {
		t.Errorf("container net ns %q, want the joined %s", got, want)
	}
}

// TestUserNamespace maps container root to host uid/gid 100000.
func TestUserNamespace(t *testing.T) {
	e := newEnv(t)
	id := e.id("userns")
	bundle := e.bundle(id, chain(sh(`cat /proc/self/uid_map /proc/self/gid_map; id -u; id -g; readlink /proc/self/ns/user; sleep 1000`),
		func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
			s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
			// A cgroup v1 mount in a user namespace is beside the point here.
			s.Mounts = s.Mounts[:len(s.Mounts)-1]
		}))
	out := e.create(id, bundle)
	pid := e.wantStatus(id, "created").Pid
	hostSt := procStatus(readProc(t, pid, "status"), "Uid", "Gid")
	if hostSt["Uid"] != "100000 100000 100000 100000" || hostSt["Gid"] != "100000 100000 100000 100000" {
		t.Errorf("container init seen from the host: Uid %q Gid %q, want 100000", hostSt["Uid"], hostSt["Gid"])
	}
	e.ok(e.rt("start", id))
	text := e.waitFileContains(out, "user:[", defaultTimeout)
	lines := strings.Split(squash(text), "\n")
	want := []string{"0 100000 65536", "0 100000 65536", "0", "0"}
	if len(lines) != 5 || strings.Join(lines[:4], "|") != strings.Join(want, "|") {
		t.Fatalf("inside user ns: %q, want %q then the ns link", lines, want)
	}
	if lines[4] == hostNS(t, "user") {
		t.Errorf("user namespace is the host's: %s", lines[4])
	}
}

func readProc(t *testing.T, pid int, file string) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/%s", pid, file))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestSysctl: linux.sysctl is applied in the container's namespaces only
// (runtime-spec config-linux.md "Sysctl").
func TestSysctl(t *testing.T) {
	e := newEnv(t)
	files := []string{"/proc/sys/net/ipv4/ip_default_ttl", "/proc/sys/net/ipv4/ip_forward", "/proc/sys/kernel/shmmax"}
	hostBefore := readAll(t, files)
	got := e.runLines("cat "+strings.Join(files, " "), func(s *specs.Spec) {
		s.Linux.Sysctl = map[string]string{
			"net.ipv4.ip_default_ttl": "77",        // net ns
			"net.ipv4.ip_forward":     "1",         // net ns
			"kernel.shmmax":           "123456789", // ipc ns
		}
	})
	if want := []string{"77", "1", "123456789"}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("sysctls inside: %q, want %q", got, want)
	}
	if after := readAll(t, files); after != hostBefore {
		t.Errorf("host sysctls changed: %q -> %q", hostBefore, after)
	}
}

func readAll(t *testing.T, files []string) string {
	t.Helper()
	var b strings.Builder
	for _, f := range files {
		c, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(c)
	}
	return b.String()
}

// TestCgroupNSFreshMounts: in a cgroup namespace, a fresh "cgroup2"
// mount shows the container's own cgroup as its root, not the host's
// tree (cgroup_namespaces(7)): the init must be in its cgroup and
// namespace before it mounts, wherever the mount sits in the list.
func TestCgroupNSFreshMounts(t *testing.T) {
	if _, err := os.Stat("/sys/fs/cgroup/unified/cgroup.procs"); err != nil {
		if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err != nil {
			t.Skip("no cgroup2 hierarchy on this host")
		}
	}
	e := newEnv(t)
	// Subdirectories of the fresh mount: none, when its root is the
	// container's own (leaf) cgroup; the host's root has some.
	lines := e.runLines(`n=0; for d in /home/*/; do [ -d "$d" ] && n=$((n+1)); done; echo dirs=$n; grep '^0::' /proc/self/cgroup`,
		func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.CgroupNamespace})
			// First in the list: before /proc, /dev and the rest.
			s.Mounts = append([]specs.Mount{{Destination: "/home", Type: "cgroup2", Source: "cgroup2",
				Options: []string{"nosuid", "noexec", "nodev", "ro"}}}, s.Mounts...)
		})
	if len(lines) != 2 || lines[0] != "dirs=0" || lines[1] != "0::/" {
		t.Errorf("fresh cgroup2 mount in a cgroup namespace: %q, want [dirs=0 0::/]", lines)
	}
}

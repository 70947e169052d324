package integration

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The container's process must be in its cgroup in every hierarchy the
// host mounts, from create on (runtime-spec: the cgroup is part of the
// environment that create sets up), and its program after start. gocker's
// init enters the v1 hierarchies by itself, one thread at a time, and the
// unified one at clone (runtime/cgroups.BeginCreate); these tests check
// the result from the host's side, through /proc/PID/cgroup and each
// hierarchy's cgroup.procs.

// mountedHierarchies maps the controller list of each mounted cgroup
// hierarchy, as /proc/PID/cgroup names it ("cpu,cpuacct", "name=systemd",
// "" for cgroup2), to its mount point.
func mountedHierarchies(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// mountinfo(5): ... mount-point ... - fstype source super-options
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		pf, qf := strings.Fields(pre), strings.Fields(post)
		if len(pf) < 5 || len(qf) < 3 || pf[3] != "/" {
			continue // a bind mount of a sub-cgroup, not the hierarchy
		}
		switch qf[0] {
		case "cgroup2":
			out[""] = pf[4]
		case "cgroup":
			var ctrls []string
			for o := range strings.SplitSeq(qf[2], ",") {
				switch o {
				case "rw", "ro", "nosuid", "nodev", "noexec", "relatime", "xattr", "clone_children", "cpuset_v2_mode", "favordynmods", "nofavordynmods":
				default:
					if !strings.HasPrefix(o, "release_agent=") {
						ctrls = append(ctrls, o)
					}
				}
			}
			if len(ctrls) > 0 {
				out[strings.Join(ctrls, ",")] = pf[4]
			}
		}
	}
	return out
}

// procCgroups maps each hierarchy's controller list to pid's cgroup in it.
func procCgroups(t *testing.T, pid int) map[string]string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for l := range strings.SplitSeq(strings.TrimSpace(string(b)), "\n") {
		f := strings.SplitN(l, ":", 3)
		if len(f) == 3 {
			out[f[1]] = f[2]
		}
	}
	return out
}

// sameCtrls compares controller lists regardless of order ("cpuacct,cpu").
func sameCtrls(a, b string) bool {
	x, y := strings.Split(a, ","), strings.Split(b, ",")
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}

// checkInCgroup fails unless pid is in /<cg> in every mounted hierarchy
// that has a directory for it, and that directory's cgroup.procs lists pid.
func checkInCgroup(t *testing.T, what string, pid int, cg string) {
	t.Helper()
	want := "/" + cg
	got := procCgroups(t, pid)
	n := 0
	for ctrls, mnt := range mountedHierarchies(t) {
		dir := filepath.Join(mnt, cg)
		if _, err := os.Stat(dir); err != nil {
			continue // a hierarchy the runtime does not use (e.g. hugetlb here)
		}
		n++
		var path string
		for k, v := range got {
			if sameCtrls(k, ctrls) {
				path = v
			}
		}
		if path != want {
			t.Errorf("%s: pid %d is in %q in hierarchy %q (%s), want %q", what, pid, path, ctrls, mnt, want)
		}
		procs := strings.Fields(readTrim(t, filepath.Join(dir, "cgroup.procs")))
		if !slices.Contains(procs, strconv.Itoa(pid)) {
			t.Errorf("%s: %s/cgroup.procs = %v, want it to list %d", what, dir, procs, pid)
		}
	}
	if n == 0 {
		t.Fatalf("%s: no hierarchy has a directory for %s", what, cg)
	}
}

func testCgroupMembership(t *testing.T, mod func(*specs.Spec)) {
	e := newEnv(t)
	id := e.id("cgjoin")
	cg := e.cgroupName(id)
	out := e.create(id, e.bundle(id, chain(mod, sh("echo started; exec sleep 1000"))))
	st := e.mustState(id)
	checkInCgroup(t, "created", st.Pid, cg)
	e.ok(e.rt("start", id))
	e.waitFileContains(out, "started", 10*time.Second)
	checkInCgroup(t, "running", st.Pid, cg)
	e.ok(e.rt("delete", "--force", id))
}

func TestCgroupMembership(t *testing.T) { testCgroupMembership(t, func(*specs.Spec) {}) }

// TestCgroupMembershipUserNS: the init runs as host uid 100000, which may
// not write the cgroup files itself.
func TestCgroupMembershipUserNS(t *testing.T) { testCgroupMembership(t, withUserNS) }

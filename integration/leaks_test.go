package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// procID names a process across pid reuse: pid plus its start time
// (field 22 of /proc/PID/stat, proc(5)).
type procID struct {
	pid   int
	start string
}

// procStat returns the state letter and start time of pid.
func procStat(pid int) (state, start string, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", "", false
	}
	// comm (field 2) may contain spaces; fields after the last ')' are fixed.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return "", "", false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return "", "", false
	}
	return f[0], f[19], true
}

// alive reports whether p still runs (a zombie has exited and counts as gone).
func (p procID) alive() bool {
	state, start, ok := procStat(p.pid)
	return ok && start == p.start && state != "Z"
}

func pidAlive(pid int) bool {
	state, _, ok := procStat(pid)
	return ok && state != "Z"
}

func (e *env) trackPid(pid int) {
	_, start, ok := procStat(pid)
	if !ok {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, p := range e.procs {
		if p.pid == pid && p.start == start {
			return
		}
	}
	e.procs = append(e.procs, procID{pid, start})
}

// cleanup force-deletes every container the test made and then checks,
// for up to 10s, that nothing of them is left.
func (e *env) cleanup() {
	e.mu.Lock()
	ids := append([]string(nil), e.ids...)
	e.mu.Unlock()
	for _, id := range ids {
		e.rt("delete", "--force", id) // fails harmlessly when already gone
	}
	var leaks []string
	waitFor(10*time.Second, func() bool {
		leaks = e.leaks(ids)
		return len(leaks) == 0
	})
	for _, l := range leaks {
		e.t.Errorf("leak after cleanup: %s", l)
	}
	if len(leaks) > 0 {
		e.scrub()
	}
	for _, ns := range e.netns {
		if out, err := exec.Command("ip", "netns", "delete", ns).CombinedOutput(); err != nil {
			e.t.Errorf("ip netns delete %s: %v: %s", ns, err, out)
		}
	}
}

// leaks lists what remains of the given containers and of every cgroup and
// process the test registered.
func (e *env) leaks(ids []string) []string {
	var out []string
	for _, id := range ids {
		out = append(out, e.stateLeaks(id)...)
	}
	e.mu.Lock()
	cgroups := append([]string(nil), e.cgroups...)
	procs := append([]procID(nil), e.procs...)
	e.mu.Unlock()
	for _, cg := range cgroups {
		out = append(out, cgroupLeaks(cg)...)
	}
	for _, p := range procs {
		if p.alive() {
			out = append(out, fmt.Sprintf("process %d still running", p.pid))
		}
	}
	return out
}

// stateLeaks reports a state dir left under --root for id.
func (e *env) stateLeaks(id string) []string {
	if id == "" {
		return nil
	}
	p := filepath.Join(e.root, id)
	if !strings.HasPrefix(filepath.Clean(p), e.root+"/") {
		return nil // an invalid ID such as "../x" is checked by its test
	}
	if _, err := os.Lstat(p); err == nil {
		return []string{"state dir " + p}
	}
	return nil
}

// cgroupLeaks reports cgroup dirs named name under any hierarchy, and any
// process whose /proc/PID/cgroup still names it.
func cgroupLeaks(name string) []string {
	var out []string
	// Depth 1-3: a runtime given a relative or no cgroupsPath nests under
	// its own cgroup (here /process_api/<hash> in the memory hierarchy).
	// gocker's default cgroup, without a cgroupsPath, is gocker-<id>.
	for _, pat := range []string{"/sys/fs/cgroup/" + name, "/sys/fs/cgroup/*/" + name,
		"/sys/fs/cgroup/*/*/" + name, "/sys/fs/cgroup/*/*/*/" + name,
		"/sys/fs/cgroup/gocker-" + name, "/sys/fs/cgroup/*/gocker-" + name} {
		dirs, _ := filepath.Glob(pat)
		for _, d := range dirs {
			out = append(out, "cgroup "+d)
		}
	}
	for _, pid := range pidsInCgroup(name) {
		out = append(out, fmt.Sprintf("process %d in cgroup %s", pid, name))
	}
	return out
}

// pidsInCgroup scans /proc for processes whose cgroup path contains name.
func pidsInCgroup(name string) []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, ent := range ents {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + ent.Name() + "/cgroup")
		if err != nil || !strings.Contains(string(b), "/"+name) && !strings.Contains(string(b), "/gocker-"+name) {
			continue
		}
		if pidAlive(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// scrub removes leftovers after a failed leak check so one broken test does
// not poison the machine or later tests. The test has already failed.
func (e *env) scrub() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, p := range e.procs {
		if p.alive() {
			syscall.Kill(p.pid, syscall.SIGKILL)
		}
	}
	for _, cg := range e.cgroups {
		for _, pid := range pidsInCgroup(cg) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	time.Sleep(200 * time.Millisecond)
	for _, cg := range e.cgroups {
		for _, l := range cgroupLeaks(cg) {
			if d, ok := strings.CutPrefix(l, "cgroup "); ok {
				removeCgroupDir(d)
			}
		}
	}
}

// removeCgroupDir removes a leaked cgroup. On a cgroup fs that is rmdir;
// a runtime writing into a controller dir whose hierarchy is not mounted
// leaves plain tmpfs files, which need a recursive remove.
func removeCgroupDir(d string) {
	var fs syscall.Statfs_t
	if err := syscall.Statfs(d, &fs); err == nil && fs.Type == tmpfsMagic {
		os.RemoveAll(d)
		return
	}
	os.Remove(d)
}

const tmpfsMagic = 0x01021994 // TMPFS_MAGIC, linux/magic.h

// assertNoTraces checks right now (a failed create must leave nothing, not
// eventually) that id has no state dir, and that the cgroup and processes of
// the bundle's cgroup name are absent.
func (e *env) assertNoTraces(id, cgroup string) {
	e.t.Helper()
	leaks := append(e.stateLeaks(id), cgroupLeaks(cgroup)...)
	for _, l := range leaks {
		e.t.Errorf("failed create left %s", l)
	}
}

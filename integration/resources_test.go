package integration

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Resource control, checked by its effect on real processes: the kernel
// must enforce each limit, not merely show it in a cgroup file. The cgroup
// files are read from the host with hostCgFile, which knows both v1 (this
// host) and v2 (the `make test-cgroupv2` VM).

const resMiB = 1 << 20 // bytes

func hostIsV2() bool {
	_, err := os.Stat("/sys/fs/cgroup/cgroup.controllers")
	return err == nil
}

// hostCgFile is the host path of a file of cgroup /<cg>: v1file in the v1
// controller's hierarchy, or v2file in the unified one.
func hostCgFile(cg, v1ctrl, v1file, v2file string) string {
	if hostIsV2() {
		return filepath.Join("/sys/fs/cgroup", cg, v2file)
	}
	return filepath.Join("/sys/fs/cgroup", v1ctrl, cg, v1file)
}

func readTrim(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("read %s: %v", p, err)
	}
	return strings.TrimSpace(string(b))
}

// keyValue reads "key value" lines (memory.oom_control, cpu.stat, ...).
func keyValue(t *testing.T, p, key string) uint64 {
	t.Helper()
	for l := range strings.SplitSeq(readTrim(t, p), "\n") {
		if k, v, ok := strings.Cut(l, " "); ok && k == key {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			if err != nil {
				t.Fatalf("%s: %s: %v", p, l, err)
			}
			return n
		}
	}
	t.Fatalf("%s has no %q", p, key)
	return 0
}

// withRes edits linux.resources of the spec.
func withRes(mod func(r *specs.LinuxResources)) func(*specs.Spec) {
	return func(s *specs.Spec) { mod(s.Linux.Resources) }
}

// memLimit sets memory.limit and memory.swap (the memory+swap total) to the
// same value, so the container cannot escape into swap.
func memLimit(n int64) func(*specs.Spec) {
	return withRes(func(r *specs.LinuxResources) {
		r.Memory = &specs.LinuxMemory{Limit: ptr(n), Swap: ptr(n)}
	})
}

// rwBind mounts a fresh host dir at mntRW and returns the host side.
func (e *env) rwBind() (string, func(*specs.Spec)) {
	dir := filepath.Join(e.dir, "hostrw-"+randHex(3))
	if err := os.MkdirAll(dir, 0o777); err != nil {
		e.t.Fatal(err)
	}
	return dir, addMount(specs.Mount{Destination: mntRW, Type: "bind", Source: dir, Options: []string{"rbind", "rw"}})
}

// event is one line of `events`.
type event struct {
	Type string          `json:"type"`
	ID   string          `json:"id"`
	Data json.RawMessage `json:"data"`
}

// statsData is the part of the stats event the tests read.
type statsData struct {
	CPU struct {
		Usage struct {
			Total uint64 `json:"total"`
		} `json:"usage"`
	} `json:"cpu"`
	Memory struct {
		Usage struct {
			Limit uint64 `json:"limit"`
			Usage uint64 `json:"usage"`
		} `json:"usage"`
	} `json:"memory"`
	Pids struct {
		Current uint64 `json:"current"`
		Limit   uint64 `json:"limit"`
	} `json:"pids"`
}

func parseEvents(t *testing.T, out string) []event {
	t.Helper()
	var evs []event
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var ev event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("events line is not JSON: %v: %q", err, sc.Text())
		}
		evs = append(evs, ev)
	}
	return evs
}

func (e *env) stats(id string) statsData {
	e.t.Helper()
	r := e.ok(e.rt("events", "--stats", id))
	evs := parseEvents(e.t, r.stdout)
	if len(evs) != 1 || evs[0].Type != "stats" || evs[0].ID != id {
		e.t.Fatalf("events --stats: want one stats event for %s, got %s", id, r)
	}
	var s statsData
	if err := json.Unmarshal(evs[0].Data, &s); err != nil {
		e.t.Fatalf("stats data: %v: %s", err, evs[0].Data)
	}
	return s
}

// TestResourcesMemoryOOM: a process allocating past memory.limit is killed
// by the kernel's OOM killer, the kernel counts it, and `events` reports
// an oom event.
func TestResourcesMemoryOOM(t *testing.T) {
	crunDiffers(t, "crun 1.8.1 has no events command")
	e := newEnv(t)
	id := e.id("oom")
	// dd's 64 MiB buffer cannot fit in 16 MiB; the shell survives to
	// report dd's fate.
	out := e.create(id, e.bundle(id, chain(memLimit(16*resMiB),
		sh(`dd if=/dev/zero of=/dev/null bs=64M count=1; echo dd-status=$?; exec sleep 1000`))))
	ev := e.rtStart(opts{timeout: 60 * time.Second}, "events", "--interval", "200ms", id)
	evOut := e.outFileOf(ev)
	// The first stats event: events is up and watching (gocker arms the
	// OOM notification before its first tick), where a fixed sleep could
	// end first on a loaded host.
	e.waitFileContains(evOut, `"type":"stats"`, 10*time.Second)
	e.ok(e.rt("start", id))
	e.waitFileContains(out, "dd-status=137", 10*time.Second) // 128+SIGKILL
	e.waitFileContains(evOut, `"type":"oom"`, 10*time.Second)

	cg := e.cgroupName(id)
	if hostIsV2() {
		if n := keyValue(t, hostCgFile(cg, "", "", "memory.events"), "oom_kill"); n < 1 {
			t.Errorf("memory.events oom_kill = %d, want >= 1", n)
		}
	} else if n := keyValue(t, hostCgFile(cg, "memory", "memory.oom_control", ""), "oom_kill"); n < 1 {
		t.Errorf("memory.oom_control oom_kill = %d, want >= 1", n)
	}
	e.wantStatus(id, "running") // only dd was killed

	e.ok(e.rt("kill", id, "KILL"))
	e.waitStatus(id, "stopped", 10*time.Second)
	if !isGocker() {
		// runc's events ends only when the cgroup goes away.
		e.ok(e.rt("delete", id))
	}
	r := ev.wait()
	if r.code != 0 || r.err != nil {
		t.Fatalf("events did not end cleanly when the container stopped: %s", r)
	}
	evs := parseEvents(t, r.stdout)
	var ooms, stats int
	for _, x := range evs {
		if x.ID != id {
			t.Errorf("event for id %q, want %q", x.ID, id)
		}
		switch x.Type {
		case "oom":
			ooms++
		case "stats":
			stats++
		}
	}
	if ooms < 1 || stats < 1 {
		t.Errorf("events: %d oom and %d stats events, want >= 1 of each: %s", ooms, stats, r.stdout)
	}
}

// TestResourcesPidsLimit: with pids.limit 5, forks past the limit fail
// with EAGAIN, the kernel counts the refusals, and the cgroup never holds
// more than 5 tasks.
func TestResourcesPidsLimit(t *testing.T) {
	e := newEnv(t)
	id := e.id("pids")
	// A failed fork makes ash exit, so the forking loop runs in a child
	// shell and the init reports how it ended.
	out := e.create(id, e.bundle(id, chain(
		withRes(func(r *specs.LinuxResources) { r.Pids = &specs.LinuxPids{Limit: ptr(int64(5))} }),
		sh(`exec 2>&1; sh -c 'i=0; while [ $i -lt 10 ]; do sleep 1000 & i=$((i+1)); done'; echo loop-status=$?; exec sleep 1000`))))
	e.ok(e.rt("start", id))
	text := e.waitFileContains(out, "loop-status=", 10*time.Second)
	if !strings.Contains(text, "fork") || strings.Contains(text, "loop-status=0") {
		t.Errorf("want a fork failure reported by the shell; output: %q", text)
	}
	cg := e.cgroupName(id)
	n, _ := strconv.Atoi(readTrim(t, hostCgFile(cg, "pids", "pids.current", "pids.current")))
	if n < 1 || n > 5 {
		t.Errorf("pids.current = %d, want 1-5", n)
	}
	if refused := keyValue(t, hostCgFile(cg, "pids", "pids.events", "pids.events"), "max"); refused < 1 {
		t.Errorf("pids.events max = %d, want >= 1 refused fork", refused)
	}
	if pids := e.psJSON(id); len(pids) != n {
		t.Errorf("ps lists %d processes, pids.current is %d: %v", len(pids), n, pids)
	}
}

// cpuUsageNS reads the cgroup's total CPU time.
func cpuUsageNS(t *testing.T, cg string) uint64 {
	t.Helper()
	if hostIsV2() {
		return keyValue(t, hostCgFile(cg, "", "", "cpu.stat"), "usage_usec") * 1000
	}
	n, err := strconv.ParseUint(readTrim(t, hostCgFile(cg, "cpuacct", "cpuacct.usage", "")), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestResourcesCPUQuota: two busy loops, which would use two CPUs, are
// held by a 20% CFS quota (20ms per 100ms period) to about 0.2 CPU.
func TestResourcesCPUQuota(t *testing.T) {
	e := newEnv(t)
	id := e.id("quota")
	e.createStarted(id, chain(
		withRes(func(r *specs.LinuxResources) {
			r.CPU = &specs.LinuxCPU{Quota: ptr(int64(20000)), Period: ptr(uint64(100000))}
		}),
		sh(`while :; do :; done & while :; do :; done`)))
	cg := e.cgroupName(id)
	time.Sleep(300 * time.Millisecond)
	u0, t0 := cpuUsageNS(t, cg), time.Now()
	time.Sleep(1500 * time.Millisecond)
	u1, t1 := cpuUsageNS(t, cg), time.Now()
	share := float64(u1-u0) / float64(t1.Sub(t0).Nanoseconds())
	t.Logf("CPU used under a 20%% quota: %.3f CPUs", share)
	if share >= 0.40 {
		t.Errorf("CPU usage %.3f CPUs under a 0.2 CPU quota, want < 0.40", share)
	}
	if share < 0.05 {
		t.Errorf("CPU usage %.3f CPUs: the busy loops did not run", share)
	}
}

// lastHostCPU is the highest online CPU number.
func lastHostCPU(t *testing.T) int {
	t.Helper()
	list := readTrim(t, "/sys/devices/system/cpu/online")
	last := list[strings.LastIndexAny(list, ",-")+1:]
	n, err := strconv.Atoi(last)
	if err != nil {
		t.Fatalf("parse %q: %v", list, err)
	}
	return n
}

// TestResourcesCpuset: cpuset.cpus pins the container's processes to the
// given CPU, as the scheduler reports in /proc/self/status.
func TestResourcesCpuset(t *testing.T) {
	e := newEnv(t)
	cpu := strconv.Itoa(lastHostCPU(t))
	got := e.runLines(`grep -E '^(Cpus|Mems)_allowed_list' /proc/self/status`,
		withRes(func(r *specs.LinuxResources) { r.CPU = &specs.LinuxCPU{Cpus: cpu, Mems: "0"} }))
	m := procStatus(strings.Join(got, "\n"), "Cpus_allowed_list", "Mems_allowed_list")
	if m["Cpus_allowed_list"] != cpu || m["Mems_allowed_list"] != "0" {
		t.Errorf("inside: %v, want Cpus_allowed_list %s and Mems_allowed_list 0", m, cpu)
	}
}

// counter starts a container that increments a counter in a host-visible
// file every 20ms and returns a reader for it.
func (e *env) counter(id string) func() int {
	dir, mnt := e.rwBind()
	e.createStarted(id, chain(mnt, sh(`i=0; while :; do i=$((i+1)); echo $i > `+mntRW+`/c.tmp; mv `+mntRW+`/c.tmp `+mntRW+`/c; usleep 20000; done`)))
	read := func() int {
		b, _ := os.ReadFile(filepath.Join(dir, "c"))
		n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		return n
	}
	if !waitFor(10*time.Second, func() bool { return read() > 0 }) {
		e.t.Fatal("counter never started")
	}
	return read
}

// TestPauseResume: pause freezes every process (the counter stops), state
// says paused, resume lets it go on.
func TestPauseResume(t *testing.T) {
	crunDiffers(t, "crun pauses an already paused container without an error")
	e := newEnv(t)
	id := e.id("pause")
	read := e.counter(id)

	e.ok(e.rt("pause", id))
	e.wantStatus(id, "paused")
	if !hostIsV2() {
		if st := readTrim(t, hostCgFile(e.cgroupName(id), "freezer", "freezer.state", "")); st != "FROZEN" {
			t.Errorf("freezer.state %q, want FROZEN", st)
		}
	}
	c1 := read()
	time.Sleep(500 * time.Millisecond)
	if c2 := read(); c2 != c1 {
		t.Errorf("counter moved while paused: %d -> %d", c1, c2)
	}
	if pids := e.psJSON(id); len(pids) == 0 {
		t.Errorf("ps of a paused container lists no processes")
	}
	r := e.fails(e.rt("pause", id))
	if isGocker() {
		e.wantErrText(r, "already paused")
	}

	e.ok(e.rt("resume", id))
	e.wantStatus(id, "running")
	if !waitFor(5*time.Second, func() bool { return read() > c1+5 }) {
		t.Errorf("counter did not move after resume: still %d", read())
	}
	e.wantErrText(e.fails(e.rt("resume", id)), "container not paused")
}

// TestPauseErrors: pause and resume of a stopped container, and of an
// unknown one.
func TestPauseErrors(t *testing.T) {
	crunDiffers(t, `crun says "is not running" for both a stopped and a running container`)
	e := newEnv(t)
	id := e.id("pausestop")
	e.createStarted(id, withArgs("true"))
	e.waitStatus(id, "stopped", 10*time.Second)
	e.wantErrText(e.fails(e.rt("pause", id)), "container not running")
	e.wantErrText(e.fails(e.rt("resume", id)), "container not paused")
	e.wantNotExist(e.fails(e.rt("pause", "gocker-test-nosuch-"+randHex(4))))
	e.wantNotExist(e.fails(e.rt("resume", "gocker-test-nosuch-"+randHex(4))))
}

// TestPausedKill: a paused container dies of `kill KILL` (the runtime
// thaws it: a frozen v1 task acts on no signal) and of `delete --force`.
func TestPausedKill(t *testing.T) {
	t.Run("kill", func(t *testing.T) {
		crunDiffers(t, `a paused container stays "paused" after crun kill KILL: crun does not thaw it`)
		e := newEnv(t)
		id := e.id("pausekill")
		st, _ := e.createStarted(id, sh(`sleep 1000 & exec sleep 1000`))
		e.ok(e.rt("pause", id))
		e.wantStatus(id, "paused")
		e.ok(e.rt("kill", id, "KILL"))
		e.waitStatus(id, "stopped", 10*time.Second)
		if !waitFor(5*time.Second, func() bool { return !pidAlive(st.Pid) }) {
			t.Errorf("init %d of the killed paused container still alive", st.Pid)
		}
		e.ok(e.rt("delete", id))
		e.wantGone(id)
	})
	t.Run("delete-force", func(t *testing.T) {
		e := newEnv(t)
		id := e.id("pausedel")
		st, _ := e.createStarted(id, sh(`sleep 1000 & exec sleep 1000`))
		e.ok(e.rt("pause", id))
		e.wantStatus(id, "paused")
		e.fails(e.rt("delete", id)) // paused is not stopped
		e.ok(e.rt("delete", "--force", id))
		e.wantGone(id)
		if !waitFor(5*time.Second, func() bool { return !pidAlive(st.Pid) }) {
			t.Errorf("init %d of the force-deleted paused container still alive", st.Pid)
		}
	})
}

func (e *env) psJSON(id string) []int {
	e.t.Helper()
	r := e.ok(e.rt("ps", "--format", "json", id))
	var pids []int
	if err := json.Unmarshal([]byte(r.stdout), &pids); err != nil {
		e.t.Fatalf("ps --format json is not a JSON array of ints: %v: %s", err, r)
	}
	return pids
}

// TestPs: json lists exactly the host pids in the container's cgroup;
// table filters ps(1) output to them, with the given ps options.
func TestPs(t *testing.T) {
	crunDiffers(t, "crun ps takes no ps(1) arguments")
	e := newEnv(t)
	id := e.id("ps")
	st, _ := e.createStarted(id, sh(`sleep 1000 & sleep 1001 & wait`))
	cg := e.cgroupName(id)
	var pids []int
	if !waitFor(5*time.Second, func() bool { pids = e.psJSON(id); return len(pids) == 3 }) {
		t.Fatalf("ps json: %v, want the shell and two sleeps", pids)
	}
	if !slices.Contains(pids, st.Pid) {
		t.Errorf("ps json %v lacks the init pid %d", pids, st.Pid)
	}
	inCg := pidsInCgroup(cg)
	slices.Sort(inCg)
	slices.Sort(pids)
	if !slices.Equal(pids, inCg) {
		t.Errorf("ps json %v, but the processes in cgroup %s are %v", pids, cg, inCg)
	}

	if err := exec.Command("ps", "-ef").Run(); err != nil {
		t.Skipf("no procps ps on this host (%v): table format not tested", err)
	}
	rows := strings.Split(strings.TrimSpace(e.ok(e.rt("ps", id)).stdout), "\n")
	if len(rows) != 4 || !slices.Contains(strings.Fields(rows[0]), "PID") {
		t.Errorf("ps table: want a header with PID and 3 rows, got %q", rows)
	}
	rows = strings.Split(squash(e.ok(e.rt("ps", id, "-o", "pid,comm")).stdout), "\n")
	want := []string{"PID COMMAND"}
	for _, p := range pids {
		comm := "sleep"
		if p == st.Pid {
			comm = "sh"
		}
		want = append(want, fmt.Sprintf("%d %s", p, comm))
	}
	slices.Sort(rows[1:])
	slices.Sort(want[1:])
	if !slices.Equal(rows, want) {
		t.Errorf("ps -o pid,comm: %q, want %q", rows, want)
	}
	e.wantNotExist(e.fails(e.rt("ps", "gocker-test-nosuch-"+randHex(4))))
}

// TestEventsStats: one stats event with live figures, then exit.
func TestEventsStats(t *testing.T) {
	crunDiffers(t, "crun 1.8.1 has no events command")
	e := newEnv(t)
	id := e.id("stats")
	e.createStarted(id, chain(memLimit(64*resMiB),
		withRes(func(r *specs.LinuxResources) { r.Pids = &specs.LinuxPids{Limit: ptr(int64(40))} }),
		sh(`i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; exec sleep 1000`)))
	time.Sleep(200 * time.Millisecond)
	s := e.stats(id)
	if s.Memory.Usage.Usage == 0 || s.Memory.Usage.Limit != 64*resMiB {
		t.Errorf("memory usage %d limit %d, want usage > 0 and limit %d", s.Memory.Usage.Usage, s.Memory.Usage.Limit, 64*resMiB)
	}
	if s.Pids.Current < 1 || s.Pids.Limit != 40 {
		t.Errorf("pids current %d limit %d, want >= 1 and 40", s.Pids.Current, s.Pids.Limit)
	}
	if s.CPU.Usage.Total == 0 {
		t.Errorf("cpu usage total is 0")
	}
	e.ok(e.rt("kill", id, "KILL"))
	e.waitStatus(id, "stopped", 10*time.Second)
	e.fails(e.rt("events", "--stats", id))
}

// limits reads the memory, pids and CFS limits of cgroup cg.
type limits struct{ mem, pids, quota string }

func readLimits(t *testing.T, cg string) limits {
	l := limits{
		mem:  readTrim(t, hostCgFile(cg, "memory", "memory.limit_in_bytes", "memory.max")),
		pids: readTrim(t, hostCgFile(cg, "pids", "pids.max", "pids.max")),
	}
	if hostIsV2() {
		l.quota = readTrim(t, hostCgFile(cg, "", "", "cpu.max"))
	} else {
		l.quota = readTrim(t, hostCgFile(cg, "cpu", "cpu.cfs_quota_us", "")) + " " +
			readTrim(t, hostCgFile(cg, "cpu", "cpu.cfs_period_us", ""))
	}
	return l
}

// TestUpdate: update changes the live limits (flags, then a --resources
// document on stdin that leaves the other limits alone), and events sees
// the new ones; a memory limit the container then exceeds is enforced.
func TestUpdate(t *testing.T) {
	crunDiffers(t, "crun 1.8.1 update does not parse size suffixes (--memory 128m)")
	e := newEnv(t)
	id := e.id("update")
	e.createStarted(id, chain(memLimit(64*resMiB),
		withRes(func(r *specs.LinuxResources) { r.Pids = &specs.LinuxPids{Limit: ptr(int64(50))} })))
	cg := e.cgroupName(id)

	e.ok(e.rt("update", "--memory", "128m", "--memory-swap", "128m", "--pids-limit", "30",
		"--cpu-quota", "30000", "--cpu-period", "100000", id))
	want := limits{mem: strconv.Itoa(128 * resMiB), pids: "30", quota: "30000 100000"}
	if got := readLimits(t, cg); got != want {
		t.Errorf("after update flags: %+v, want %+v", got, want)
	}

	doc := fmt.Sprintf(`{"memory": {"limit": %d, "swap": %d}, "cpu": {"quota": 0, "period": 0}}`, 96*resMiB, 96*resMiB)
	e.ok(e.rtOpts(opts{stdin: strings.NewReader(doc)}, "update", "--resources", "-", id))
	want.mem = strconv.Itoa(96 * resMiB)
	if got := readLimits(t, cg); got != want {
		t.Errorf("after update --resources -: %+v, want %+v (zeros leave values unchanged)", got, want)
	}
	if s := e.stats(id); s.Memory.Usage.Limit != 96*resMiB || s.Pids.Limit != 30 {
		t.Errorf("events after update: memory limit %d pids limit %d, want %d and 30", s.Memory.Usage.Limit, s.Pids.Limit, 96*resMiB)
	}
	if isGocker() {
		checkSnapshot(t, e, id, 96*resMiB, 30)
	}
	e.wantStatus(id, "running")
}

// checkSnapshot reads gocker's stored config: later verbs start from it.
func checkSnapshot(t *testing.T, e *env, id string, mem, pids int64) {
	t.Helper()
	var s specs.Spec
	b, err := os.ReadFile(filepath.Join(e.root, id, "config.json"))
	if err == nil {
		err = json.Unmarshal(b, &s)
	}
	if err != nil {
		t.Fatalf("config snapshot: %v", err)
	}
	r := s.Linux.Resources
	if r.Memory == nil || *r.Memory.Limit != mem || r.Pids == nil || *r.Pids.Limit != pids ||
		r.CPU == nil || *r.CPU.Quota != 30000 || len(r.Devices) == 0 {
		t.Errorf("snapshot resources not merged: %s", b)
	}
}

// TestUpdateEnforced: lowering the memory limit of a live container makes
// an allocation that fit before fail.
func TestUpdateEnforced(t *testing.T) {
	crunDiffers(t, "crun 1.8.1 update does not parse size suffixes (--memory 16m)")
	e := newEnv(t)
	id := e.id("updoom")
	dir, mnt := e.rwBind()
	e.createStarted(id, chain(memLimit(128*resMiB), mnt,
		sh(`while :; do if [ -e `+mntRW+`/go ]; then rm `+mntRW+`/go; dd if=/dev/zero of=/dev/null bs=32M count=1; echo $? >> `+mntRW+`/res; fi; usleep 20000; done`)))
	res := filepath.Join(dir, "res")
	e.writeFile(filepath.Join(dir, "go"), "", 0o644)
	e.waitFileContains(res, "0\n", 10*time.Second)
	e.ok(e.rt("update", "--memory", "16m", "--memory-swap", "16m", id))
	e.writeFile(filepath.Join(dir, "go"), "", 0o644)
	e.waitFileContains(res, "137\n", 10*time.Second)
	e.wantStatus(id, "running")
}

// TestUpdateBadInput: each bad update fails, the container keeps running
// and its limits are unchanged.
func TestUpdateBadInput(t *testing.T) {
	crunDiffers(t, "crun accepts --cpu-share 1")
	e := newEnv(t)
	id := e.id("updbad")
	e.createStarted(id, chain(memLimit(64*resMiB),
		withRes(func(r *specs.LinuxResources) { r.Pids = &specs.LinuxPids{Limit: ptr(int64(50))} })))
	cg := e.cgroupName(id)
	before := readLimits(t, cg)
	cases := []struct {
		args       []string
		gockerOnly bool   // runc accepts it
		gockerSays string // part of gocker's error
	}{
		{[]string{"--memory", "lots"}, false, "--memory"},
		{[]string{"--memory", "-5"}, false, "--memory"},
		{[]string{"--memory", "16k"}, false, "below the container's current usage"},
		{[]string{"--cpu-quota", "x"}, false, "--cpu-quota"},
		{[]string{"--cpu-share", "1"}, false, "linux.resources.cpu.shares"},
		{[]string{"--cpuset-cpus", strconv.Itoa(lastHostCPU(t) + 3)}, false, "linux.resources.cpu.cpus"},
		{[]string{"--pids-limit", "-3"}, true, "linux.resources.pids.limit"},
		{[]string{"--memory", "128m"}, false, "linux.resources.memory.swap"}, // above memory+swap 64m
		{[]string{"--l3-cache-schema", "L3:0=f"}, false, "rdt"},
	}
	for _, c := range cases {
		if c.gockerOnly && !isGocker() {
			continue
		}
		r := e.fails(e.rt(append(append([]string{"update"}, c.args...), id)...))
		if isGocker() {
			e.wantErrText(r, c.gockerSays)
		}
		if got := readLimits(t, cg); got != before {
			t.Errorf("update %v failed but changed the limits: %+v -> %+v", c.args, before, got)
		}
		e.wantStatus(id, "running")
	}
	if isGocker() {
		checkSnapshotMem(t, e, id, 64*resMiB)
	}
	e.wantNotExist(e.fails(e.rt("update", "--memory", "64m", "gocker-test-nosuch-"+randHex(4))))
	e.ok(e.rt("kill", id, "KILL"))
	e.waitStatus(id, "stopped", 10*time.Second)
	e.wantErrText(e.fails(e.rt("update", "--memory", "64m", id)), "not running")
}

func checkSnapshotMem(t *testing.T, e *env, id string, mem int64) {
	t.Helper()
	var s specs.Spec
	b, _ := os.ReadFile(filepath.Join(e.root, id, "config.json"))
	if err := json.Unmarshal(b, &s); err != nil || *s.Linux.Resources.Memory.Limit != mem {
		t.Errorf("a failed update changed the stored memory limit: %s (%v)", b, err)
	}
}

// TestResourcesBadConfig: limits the kernel would refuse (or that make no
// sense) fail create, naming the field, and leave nothing behind.
func TestResourcesBadConfig(t *testing.T) {
	crunDiffers(t, "crun 1.8 leaves its v1 blkio and cpu cgroup dirs behind after a failed create, and accepts an out-of-range swappiness and cpu shares")
	badCPU := strconv.Itoa(lastHostCPU(t) + 1)
	cases := []struct {
		name, field string
		runcOK      bool // runc 1.1 accepts it
		mod         func(r *specs.LinuxResources)
	}{
		{"memneg", "memory.limit", false, func(r *specs.LinuxResources) { r.Memory = &specs.LinuxMemory{Limit: ptr(int64(-2))} }},
		{"memtiny", "memory.limit", false, func(r *specs.LinuxResources) { r.Memory = &specs.LinuxMemory{Limit: ptr(int64(1))} }},
		{"swappiness", "memory.swappiness", false, func(r *specs.LinuxResources) { r.Memory = &specs.LinuxMemory{Swappiness: ptr(uint64(200))} }},
		{"quota", "cpu.quota", false, func(r *specs.LinuxResources) {
			r.CPU = &specs.LinuxCPU{Quota: ptr(int64(500)), Period: ptr(uint64(100000))}
		}},
		{"period", "cpu.period", false, func(r *specs.LinuxResources) {
			r.CPU = &specs.LinuxCPU{Quota: ptr(int64(50000)), Period: ptr(uint64(1e9))}
		}},
		{"shares", "cpu.shares", false, func(r *specs.LinuxResources) { r.CPU = &specs.LinuxCPU{Shares: ptr(uint64(1 << 40))} }},
		{"cpuset", "cpu.cpus", false, func(r *specs.LinuxResources) { r.CPU = &specs.LinuxCPU{Cpus: "0-" + badCPU} }},
		{"mems", "cpu.mems", false, func(r *specs.LinuxResources) { r.CPU = &specs.LinuxCPU{Mems: "7"} }},
		{"pidsneg", "pids.limit", true, func(r *specs.LinuxResources) { r.Pids = &specs.LinuxPids{Limit: ptr(int64(-5))} }},
		{"devtype", "devices[1].type", false, func(r *specs.LinuxResources) {
			r.Devices = append(r.Devices, specs.LinuxDeviceCgroup{Allow: true, Type: "x", Access: "rwm"})
		}},
	}
	if !hostIsV2() {
		cases = append(cases, struct {
			name, field string
			runcOK      bool
			mod         func(r *specs.LinuxResources)
		}{"unified", "unified", false, func(r *specs.LinuxResources) { r.Unified = map[string]string{"memory.max": "1000000"} }})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.runcOK && !isGocker() {
				t.Skipf("%s accepts %s", runtimeName, c.field)
			}
			e := newEnv(t)
			id := e.id("badres-" + c.name)
			r := e.createMustFail(id, id, e.bundle(id, withRes(c.mod)))
			if isGocker() {
				e.wantErrText(r, "linux.resources."+c.field)
			}
		})
	}
}

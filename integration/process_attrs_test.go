package integration

import (
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// process.scheduler, process.ioPriority, linux.personality, and the
// errors where this host refuses a setting (no CAP_SYS_RESOURCE, no
// real-time budget in a v1 cgroup).

// schedFields returns "policy nice" from /proc/self/sched and stat.
const schedScript = `grep policy /proc/self/sched | tr -s ' ' | cut -d' ' -f3; cut -d' ' -f19 /proc/self/stat`

func TestScheduler(t *testing.T) {
	gockerOnly(t, "runc 1.1 has no process.scheduler")
	cases := []struct {
		sc   specs.Scheduler
		want string // policy number, nice
	}{
		{specs.Scheduler{Policy: specs.SchedBatch, Nice: 7}, "3\n7"},
		{specs.Scheduler{Policy: specs.SchedIdle}, "5\n0"},
		{specs.Scheduler{Policy: specs.SchedOther, Nice: 3, Flags: []specs.LinuxSchedulerFlag{specs.SchedFlagResetOnFork}}, "0\n3"},
	}
	for _, c := range cases {
		t.Run(string(c.sc.Policy), func(t *testing.T) {
			e := newEnv(t)
			sc := c.sc
			out := strings.TrimSpace(e.runScript(schedScript, func(s *specs.Spec) { s.Process.Scheduler = &sc }))
			if out != c.want {
				t.Errorf("policy/nice inside: %q, want %q", out, c.want)
			}
		})
	}
}

// TestSchedulerRefused: SCHED_FIFO in a v1 cpu cgroup without a real-time
// budget is refused by the kernel: create fails and says why.
func TestSchedulerRefused(t *testing.T) {
	gockerOnly(t, "runc 1.1 has no process.scheduler")
	e := newEnv(t)
	id := e.id("fifo")
	b := e.bundle(id, func(s *specs.Spec) {
		s.Process.Scheduler = &specs.Scheduler{Policy: specs.SchedFIFO, Priority: 10}
	})
	r := e.rt("create", "--bundle", b, id)
	if r.code == 0 {
		t.Skip("this host grants SCHED_FIFO to the container (cgroup v2 or a real-time budget)")
	}
	e.assertNoTraces(id, id)
	e.wantErrText(r, "process.scheduler")
	e.wantErrText(r, "realtimeRuntime")
}

func TestIOPriority(t *testing.T) {
	gockerOnly(t, "runc 1.1 has no process.ioPriority")
	cases := map[specs.IOPriorityClass]string{
		specs.IOPRIO_CLASS_IDLE: "idle",
		specs.IOPRIO_CLASS_BE:   "best-effort: prio 6",
	}
	for class, want := range cases {
		t.Run(string(class), func(t *testing.T) {
			e := newEnv(t)
			out := strings.TrimSpace(e.runScript("ionice", func(s *specs.Spec) {
				s.Process.IOPriority = &specs.LinuxIOPriority{Class: class, Priority: 6}
			}))
			if out != want {
				t.Errorf("ionice inside: %q, want %q", out, want)
			}
		})
	}
}

func TestPersonality(t *testing.T) {
	gockerOnly(t, "runc 1.1 ignores linux.personality (added in 1.2)")
	e := newEnv(t)
	out := strings.TrimSpace(e.runScript("uname -m", func(s *specs.Spec) {
		s.Linux.Personality = &specs.LinuxPersonality{Domain: specs.PerLinux32}
	}))
	if out != "i686" {
		t.Errorf("uname -m with LINUX32: %q, want i686", out)
	}
}

func TestBadProcessAttrs(t *testing.T) {
	gockerOnly(t, "wording and the fields runc 1.1 does not know")
	cases := []struct {
		name string
		mod  func(*specs.Spec)
		want string
	}{
		{"personality-domain", func(s *specs.Spec) {
			s.Linux.Personality = &specs.LinuxPersonality{Domain: "GOCKER"}
		}, "linux.personality.domain"},
		{"scheduler-flag", func(s *specs.Spec) {
			s.Process.Scheduler = &specs.Scheduler{Policy: specs.SchedOther, Flags: []specs.LinuxSchedulerFlag{"SCHED_FLAG_GOCKER"}}
		}, "process.scheduler.flags[0]"},
		// Root here lacks CAP_SYS_RESOURCE: a hard limit above the host's
		// and an oom_score_adj below ours are refused, and the error says so.
		{"rlimit-above-hard", func(s *specs.Spec) {
			s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 1024, Hard: 1 << 30}}
		}, "CAP_SYS_RESOURCE"},
		{"oom-score-adj-lower", func(s *specs.Spec) {
			adj := -999
			s.Process.OOMScoreAdj = &adj
		}, "CAP_SYS_RESOURCE"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			id := e.id("badattr")
			r := e.rt("run", "--bundle", e.bundle(id, c.mod), id)
			if c.want == "CAP_SYS_RESOURCE" && r.code == 0 {
				t.Skip("this host grants CAP_SYS_RESOURCE")
			}
			e.fails(r)
			e.wantErrText(r, c.want)
		})
	}
}

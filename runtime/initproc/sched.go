package initproc

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/gocker/gocker/runtime/proto"
)

// sched holds the per-thread attributes the program inherits across
// execve: process.scheduler (sched_setattr(2)), process.ioPriority
// (ioprio_set(2)), linux.personality (personality(2)) and, for exec
// processes, process.execCPUAffinity.final (sched_setaffinity(2)). They are
// parsed at prepare time, so a bad value fails create, and applied by the
// init's thread before it drops capabilities (real-time policies, lower
// nice values and the RT I/O class need CAP_SYS_NICE / CAP_SYS_ADMIN).
type sched struct {
	attr        *unix.SchedAttr
	ioprio      int
	hasIoprio   bool
	personality int
	hasPers     bool
	affinity    *unix.CPUSet
	affinityStr string
}

var schedPolicy = map[specs.LinuxSchedulerPolicy]uint32{
	specs.SchedOther: 0, specs.SchedFIFO: 1, specs.SchedRR: 2, specs.SchedBatch: 3,
	specs.SchedISO: 4, specs.SchedIdle: 5, specs.SchedDeadline: 6,
}

// sched_setattr(2) flag bits (linux/sched.h).
var schedFlag = map[specs.LinuxSchedulerFlag]uint64{
	specs.SchedFlagResetOnFork: 0x01, specs.SchedFlagReclaim: 0x02, specs.SchedFlagDLOverrun: 0x04,
	specs.SchedFlagKeepPolicy: 0x08, specs.SchedFlagKeepParams: 0x10,
	specs.SchedFlagUtilClampMin: 0x20, specs.SchedFlagUtilClampMax: 0x40,
}

// ioprio_set(2): class in the top bits (IOPRIO_CLASS_SHIFT 13), level below.
var ioprioClass = map[specs.IOPriorityClass]int{
	specs.IOPRIO_CLASS_RT: 1, specs.IOPRIO_CLASS_BE: 2, specs.IOPRIO_CLASS_IDLE: 3,
}

const ioprioWhoProcess = 1

var personalities = map[specs.LinuxPersonalityDomain]int{
	specs.PerLinux: 0x0000, specs.PerLinux32: 0x0008, // PER_LINUX, PER_LINUX32
}

func prepareSched(b *proto.Bootstrap) (*sched, error) {
	ps := b.Spec.Process
	s := &sched{}
	if sc := ps.Scheduler; sc != nil {
		pol, ok := schedPolicy[sc.Policy]
		if !ok {
			return nil, fmt.Errorf("process.scheduler.policy: unknown policy %q", sc.Policy)
		}
		a := &unix.SchedAttr{Policy: pol, Nice: sc.Nice, Priority: uint32(sc.Priority),
			Runtime: sc.Runtime, Deadline: sc.Deadline, Period: sc.Period}
		for i, f := range sc.Flags {
			bit, ok := schedFlag[f]
			if !ok {
				return nil, fmt.Errorf("process.scheduler.flags[%d]: unknown flag %q", i, f)
			}
			a.Flags |= bit
		}
		s.attr = a
	}
	if io := ps.IOPriority; io != nil {
		class, ok := ioprioClass[io.Class]
		if !ok {
			return nil, fmt.Errorf("process.ioPriority.class: unknown class %q", io.Class)
		}
		if io.Priority < 0 || io.Priority > 7 {
			return nil, fmt.Errorf("process.ioPriority.priority: %d is out of range [0, 7]", io.Priority)
		}
		s.ioprio, s.hasIoprio = class<<13|io.Priority, true
	}
	if l := b.Spec.Linux; l != nil && l.Personality != nil {
		p, ok := personalities[l.Personality.Domain]
		if !ok {
			return nil, fmt.Errorf("linux.personality.domain: unknown domain %q (want LINUX or LINUX32)", l.Personality.Domain)
		}
		if len(l.Personality.Flags) > 0 {
			return nil, fmt.Errorf("linux.personality.flags: none are defined, got %q", l.Personality.Flags)
		}
		s.personality, s.hasPers = p, true
	}
	// runtime-spec: execCPUAffinity is for exec processes; "final" is the
	// affinity right before execve ("initial" is set by the parent).
	if a := ps.ExecCPUAffinity; b.Exec && a != nil && a.Final != "" {
		set, err := parseCPUList(a.Final)
		if err != nil {
			return nil, fmt.Errorf("process.execCPUAffinity.final: %w", err)
		}
		s.affinity, s.affinityStr = set, a.Final
	}
	return s, nil
}

// applyEarly sets the scheduler and the I/O priority on the init's thread
// at create time (as runc does), so that a refusal fails create; the
// program inherits both across execve.
func (s *sched) applyEarly() error {
	if s.attr != nil {
		if err := unix.SchedSetAttr(0, s.attr, 0); err != nil {
			hint := "CAP_SYS_NICE (or RLIMIT_NICE/RLIMIT_RTPRIO)"
			if s.attr.Policy == 1 || s.attr.Policy == 2 || s.attr.Policy == 6 {
				hint += ", and on cgroup v1 a real-time budget in the container's cgroup (linux.resources.cpu.realtimeRuntime)"
			}
			return fmt.Errorf("process.scheduler: sched_setattr(policy %d, nice %d, priority %d): %w%s",
				s.attr.Policy, s.attr.Nice, s.attr.Priority, err, privHint(err, hint))
		}
	}
	if s.hasIoprio {
		if _, _, e := unix.RawSyscall(unix.SYS_IOPRIO_SET, ioprioWhoProcess, 0, uintptr(s.ioprio)); e != 0 {
			return fmt.Errorf("process.ioPriority: ioprio_set(%#x): %w%s", s.ioprio, e, privHint(e, "CAP_SYS_ADMIN or CAP_SYS_NICE"))
		}
	}
	return nil
}

// applyLate sets, right before execve, the exec affinity and the
// personality.
func (s *sched) applyLate() error {
	if s.affinity != nil {
		if err := unix.SchedSetaffinity(0, s.affinity); err != nil {
			return fmt.Errorf("process.execCPUAffinity.final %q: %w (CPUs outside the container's cpuset are refused)", s.affinityStr, err)
		}
	}
	if s.hasPers {
		if _, _, e := unix.RawSyscall(unix.SYS_PERSONALITY, uintptr(s.personality), 0, 0); e != 0 {
			return fmt.Errorf("linux.personality: %w", e)
		}
	}
	return nil
}

func privHint(err error, what string) string {
	if errors.Is(err, unix.EPERM) {
		return "; this needs " + what
	}
	return ""
}

// parseCPUList reads the kernel's list format ("0-3,7").
func parseCPUList(s string) (*unix.CPUSet, error) {
	set := &unix.CPUSet{}
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 {
			return nil, fmt.Errorf("bad CPU list %q", s)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return nil, fmt.Errorf("bad CPU range %q in %q", part, s)
			}
		}
		if b >= len(set)*64 {
			return nil, fmt.Errorf("CPU %d in %q is beyond %d", b, s, len(set)*64-1)
		}
		for c := a; c <= b; c++ {
			set.Set(c)
		}
	}
	return set, nil
}

// needsCgroupFirst: the scheduler and the I/O priority are applied at
// create, which must happen inside the container's cgroup.
func needsCgroupFirst(s *specs.Spec) bool {
	return s.Process != nil && (s.Process.Scheduler != nil || s.Process.IOPriority != nil)
}

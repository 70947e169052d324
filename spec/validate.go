package spec

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Validate checks a decoded spec. bundle is the absolute bundle directory;
// "" skips every check that looks at the filesystem. The first problem found
// is returned as a *FieldError naming the field.
func Validate(s *specs.Spec, bundle string) error {
	if s == nil {
		return errors.New("spec is nil")
	}
	checks := []func() error{
		func() error { return checkVersion(s.Version) },
		func() error { return checkRoot(s, bundle) },
		func() error { return checkProcess(s.Process) },
		func() error { return checkMounts(s.Mounts) },
		func() error { return checkHooks(s.Hooks) },
		func() error { return checkLinux(s, bundle) },
	}
	for _, c := range checks {
		if err := c(); err != nil {
			return err
		}
	}
	return nil
}

func checkRoot(s *specs.Spec, bundle string) error {
	if s.Root == nil || s.Root.Path == "" {
		return fieldErr("root.path", "must be set")
	}
	if bundle == "" {
		return nil
	}
	rootfs := RootfsPath(s, bundle)
	fi, err := os.Stat(rootfs)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fieldErr("root.path", "rootfs %q does not exist", rootfs)
	case err != nil:
		return fieldErr("root.path", "rootfs %q: %v", rootfs, err)
	case !fi.IsDir():
		return fieldErr("root.path", "rootfs %q is not a directory", rootfs)
	}
	return nil
}

// checkProcess: runtime-spec config.md makes process OPTIONAL at create; it
// is only needed by start, so a nil process is fine here.
func checkProcess(p *specs.Process) error {
	if p == nil {
		return nil
	}
	if len(p.Args) == 0 {
		return fieldErr("process.args", "must not be empty")
	}
	if !filepath.IsAbs(p.Cwd) {
		return fieldErr("process.cwd", "must be an absolute path, got %q", p.Cwd)
	}
	for _, c := range []func(*specs.Process) error{checkEnv, checkRlimits, checkCapabilities, checkProcessLinux} {
		if err := c(p); err != nil {
			return err
		}
	}
	return nil
}

// checkEnv follows what execve and runc's init need: every entry KEY=value
// with a non-empty key and no NUL byte (a NUL would silently cut the string).
func checkEnv(p *specs.Process) error {
	for i, kv := range p.Env {
		field := joinIndex("process.env", i)
		key, _, ok := strings.Cut(kv, "=")
		switch {
		case !ok:
			return fieldErr(field, "%q is not in KEY=value form", kv)
		case key == "":
			return fieldErr(field, "%q has an empty name", kv)
		case strings.ContainsRune(kv, 0):
			return fieldErr(field, "%q contains a NUL byte", kv)
		}
	}
	return nil
}

// rlimitTypes are the resources of setrlimit(2) that runtime-spec lists for
// Linux (config.md, "POSIX process").
var rlimitTypes = map[string]bool{
	"RLIMIT_AS": true, "RLIMIT_CORE": true, "RLIMIT_CPU": true, "RLIMIT_DATA": true,
	"RLIMIT_FSIZE": true, "RLIMIT_LOCKS": true, "RLIMIT_MEMLOCK": true, "RLIMIT_MSGQUEUE": true,
	"RLIMIT_NICE": true, "RLIMIT_NOFILE": true, "RLIMIT_NPROC": true, "RLIMIT_RSS": true,
	"RLIMIT_RTPRIO": true, "RLIMIT_RTTIME": true, "RLIMIT_SIGPENDING": true, "RLIMIT_STACK": true,
}

// checkRlimits: runtime-spec says duplicate types are an error, and
// setrlimit(2) fails with EINVAL when soft > hard, so report that up front.
func checkRlimits(p *specs.Process) error {
	seen := map[string]int{}
	for i, r := range p.Rlimits {
		field := joinIndex("process.rlimits", i)
		if !rlimitTypes[r.Type] {
			return fieldErr(field+".type", "unknown rlimit %q", r.Type)
		}
		if j, dup := seen[r.Type]; dup {
			return fieldErr(field+".type", "duplicate %s (also at %s)", r.Type, joinIndex("process.rlimits", j))
		}
		seen[r.Type] = i
		if r.Soft > r.Hard {
			return fieldErr(field, "soft limit %d exceeds hard limit %d", r.Soft, r.Hard)
		}
	}
	return nil
}

var knownCaps = sync.OnceValue(func() map[string]bool {
	m := map[string]bool{}
	for _, c := range capability.ListKnown() {
		m["CAP_"+strings.ToUpper(c.String())] = true
	}
	return m
})

// checkCapabilities rejects names that are not Linux capabilities
// (capabilities(7)); a typo would otherwise silently drop a privilege.
func checkCapabilities(p *specs.Process) error {
	c := p.Capabilities
	if c == nil {
		return nil
	}
	sets := []struct {
		name string
		caps []string
	}{
		{"bounding", c.Bounding}, {"effective", c.Effective}, {"inheritable", c.Inheritable},
		{"permitted", c.Permitted}, {"ambient", c.Ambient},
	}
	for _, set := range sets {
		field := "process.capabilities." + set.name
		for i, name := range set.caps {
			if !knownCaps()[name] {
				return fieldErr(field, "unknown capability %q", name).located(joinIndex(field, i))
			}
		}
	}
	return nil
}

// checkProcessLinux covers the Linux-only process fields whose ranges the
// kernel defines.
func checkProcessLinux(p *specs.Process) error {
	if p.OOMScoreAdj != nil && (*p.OOMScoreAdj < -1000 || *p.OOMScoreAdj > 1000) {
		// proc(5), /proc/pid/oom_score_adj: -1000 to +1000.
		return fieldErr("process.oomScoreAdj", "%d is out of range [-1000, 1000]", *p.OOMScoreAdj)
	}
	if io := p.IOPriority; io != nil {
		switch io.Class {
		case specs.IOPRIO_CLASS_RT, specs.IOPRIO_CLASS_BE, specs.IOPRIO_CLASS_IDLE:
		default:
			return fieldErr("process.ioPriority.class", "unknown class %q (want IOPRIO_CLASS_RT, IOPRIO_CLASS_BE or IOPRIO_CLASS_IDLE)", io.Class)
		}
		if io.Priority < 0 || io.Priority > 7 {
			// ioprio_set(2): levels 0 (highest) to 7 (lowest).
			return fieldErr("process.ioPriority.priority", "%d is out of range [0, 7]", io.Priority)
		}
	}
	if sc := p.Scheduler; sc != nil {
		if !schedPolicies[sc.Policy] {
			return fieldErr("process.scheduler.policy", "unknown policy %q", sc.Policy)
		}
		if sc.Nice < -20 || sc.Nice > 19 {
			return fieldErr("process.scheduler.nice", "%d is out of range [-20, 19]", sc.Nice)
		}
	}
	return nil
}

var schedPolicies = map[specs.LinuxSchedulerPolicy]bool{
	specs.SchedOther: true, specs.SchedFIFO: true, specs.SchedRR: true, specs.SchedBatch: true,
	specs.SchedISO: true, specs.SchedIdle: true, specs.SchedDeadline: true,
}

// checkMounts: destinations must be non-empty; relative ones were already
// made absolute by normalize (runc compatibility) when coming from Parse.
func checkMounts(ms []specs.Mount) error {
	for i, m := range ms {
		if m.Destination == "" {
			return fieldErr(joinIndex("mounts", i)+".destination", "must not be empty")
		}
	}
	return nil
}

// checkHooks: runtime-spec config.md, "POSIX-platform Hooks": path is an
// absolute path, timeout if set MUST be greater than zero.
func checkHooks(h *specs.Hooks) error {
	if h == nil {
		return nil
	}
	lists := []struct {
		name  string
		hooks []specs.Hook
	}{
		{"prestart", h.Prestart}, {"createRuntime", h.CreateRuntime}, {"createContainer", h.CreateContainer},
		{"startContainer", h.StartContainer}, {"poststart", h.Poststart}, {"poststop", h.Poststop},
	}
	for _, l := range lists {
		for i, hk := range l.hooks {
			field := joinIndex("hooks."+l.name, i)
			if !filepath.IsAbs(hk.Path) {
				return fieldErr(field+".path", "must be an absolute path, got %q", hk.Path)
			}
			if hk.Timeout != nil && *hk.Timeout <= 0 {
				return fieldErr(field+".timeout", "must be greater than zero, got %d", *hk.Timeout)
			}
		}
	}
	return nil
}

func checkAbsPaths(field string, paths []string) error {
	for i, p := range paths {
		if !filepath.IsAbs(p) {
			return fieldErr(joinIndex(field, i), "must be an absolute path, got %q", p)
		}
	}
	return nil
}

package integration

import (
	"fmt"
	"os"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Each test here sets one part of config.json's `process` (runtime-spec
// config.md "Process") and reads the effect from inside the container.

func TestHostname(t *testing.T) {
	e := newEnv(t)
	got := e.runLines("hostname", func(s *specs.Spec) { s.Hostname = "gocker-host-x" })
	if len(got) != 1 || got[0] != "gocker-host-x" {
		t.Errorf("hostname inside: %q, want gocker-host-x", got)
	}
	if host, _ := os.Hostname(); host == "gocker-host-x" {
		t.Errorf("container hostname leaked to the host")
	}
}

// TestDomainname: `domainname` is in runtime-spec since 1.1.0; runc 1.1
// ignores it (prints "(none)"), so gocker-only.
func TestDomainname(t *testing.T) {
	e := newEnv(t)
	gockerOnly(t, "runc 1.1 ignores domainname")
	got := e.runLines("cat /proc/sys/kernel/domainname", func(s *specs.Spec) { s.Domainname = "gocker.example" })
	if len(got) != 1 || got[0] != "gocker.example" {
		t.Errorf("domainname inside: %q, want gocker.example", got)
	}
}

func TestEnv(t *testing.T) {
	e := newEnv(t)
	out := e.runScript("env", func(s *specs.Spec) {
		s.Process.Env = []string{"PATH=/bin", "FOO=bar baz", "EMPTY=", "MULTI=a=b=c"}
	})
	vars := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		vars[l] = true
	}
	for _, want := range []string{"PATH=/bin", "FOO=bar baz", "EMPTY=", "MULTI=a=b=c"} {
		if !vars[want] {
			t.Errorf("env lacks %q; got:\n%s", want, out)
		}
	}
	for _, bad := range []string{leakCanary, "TERM=xterm"} {
		if vars[bad] {
			t.Errorf("env has %q, which is not in config.json; got:\n%s", bad, out)
		}
	}
}

func TestCwd(t *testing.T) {
	e := newEnv(t)
	got := e.runLines("pwd", func(s *specs.Spec) { s.Process.Cwd = "/mnt/masked" })
	if len(got) != 1 || got[0] != "/mnt/masked" {
		t.Errorf("pwd inside: %q, want /mnt/masked", got)
	}
}

// procStatus extracts the named fields from /proc/self/status output.
func procStatus(out string, keys ...string) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		for _, want := range keys {
			if k == want {
				m[k] = squash(v)
			}
		}
	}
	return m
}

func TestUser(t *testing.T) {
	e := newEnv(t)
	out := e.runScript("cat /proc/self/status", func(s *specs.Spec) {
		s.Process.User = specs.User{UID: 1000, GID: 1001, AdditionalGids: []uint32{10, 20}}
	})
	got := procStatus(out, "Uid", "Gid", "Groups")
	want := map[string]string{"Uid": "1000 1000 1000 1000", "Gid": "1001 1001 1001 1001", "Groups": "10 20"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("/proc/self/status %s: %q, want %q", k, got[k], v)
		}
	}
}

func TestUmask(t *testing.T) {
	e := newEnv(t)
	mask := uint32(0o027)
	got := e.runLines("umask; grep Umask /proc/self/status", func(s *specs.Spec) { s.Process.User.Umask = &mask })
	if len(got) != 2 || got[0] != "0027" || squash(got[1]) != "Umask: 0027" {
		t.Errorf("umask inside: %q, want [0027 \"Umask: 0027\"]", got)
	}
}

func TestRlimits(t *testing.T) {
	e := newEnv(t)
	// Below the host's hard limits: root here lacks CAP_SYS_RESOURCE.
	out := e.runScript("ulimit -n; cat /proc/self/limits", func(s *specs.Spec) {
		s.Process.Rlimits = []specs.POSIXRlimit{
			{Type: "RLIMIT_NOFILE", Soft: 512, Hard: 1000},
			{Type: "RLIMIT_CORE", Soft: 0, Hard: 4096},
			{Type: "RLIMIT_NPROC", Soft: 300, Hard: 400},
		}
	})
	if first, _, _ := strings.Cut(out, "\n"); strings.TrimSpace(first) != "512" {
		t.Errorf("ulimit -n: %q, want 512", first)
	}
	for _, want := range []string{"Max open files 512 1000 files", "Max core file size 0 4096 bytes", "Max processes 300 400 processes"} {
		if !strings.Contains(squash(out), want) {
			t.Errorf("/proc/self/limits lacks %q:\n%s", want, out)
		}
	}
}

func TestNoNewPrivileges(t *testing.T) {
	for _, nnp := range []bool{true, false} {
		t.Run(fmt.Sprint(nnp), func(t *testing.T) {
			e := newEnv(t)
			got := e.runLines("grep NoNewPrivs /proc/self/status", func(s *specs.Spec) { s.Process.NoNewPrivileges = nnp })
			want := "NoNewPrivs: 0"
			if nnp {
				want = "NoNewPrivs: 1"
			}
			if len(got) != 1 || squash(got[0]) != want {
				t.Errorf("noNewPrivileges=%v: %q, want %q", nnp, got, want)
			}
		})
	}
}

func TestOOMScoreAdj(t *testing.T) {
	e := newEnv(t)
	adj := 500
	got := e.runLines("cat /proc/self/oom_score_adj", func(s *specs.Spec) { s.Process.OOMScoreAdj = &adj })
	if len(got) != 1 || got[0] != "500" {
		t.Errorf("oom_score_adj: %q, want 500", got)
	}
}

// TestCapabilities sets distinct sets and reads the masks the kernel reports.
// CAP_CHOWN=0, CAP_KILL=5, CAP_NET_RAW=13 (capability.h).
func TestCapabilities(t *testing.T) {
	e := newEnv(t)
	out := e.runScript("cat /proc/self/status", func(s *specs.Spec) {
		s.Process.Capabilities = &specs.LinuxCapabilities{
			Bounding:  []string{"CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW"},
			Permitted: []string{"CAP_CHOWN", "CAP_KILL"},
			Effective: []string{"CAP_CHOWN", "CAP_KILL"},
		}
		// With no_new_privs, execve cannot raise root's permitted set to the
		// bounding set (capabilities(7)), so what was set is what we read.
		s.Process.NoNewPrivileges = true
	})
	got := procStatus(out, "CapBnd", "CapPrm", "CapEff", "CapInh", "CapAmb")
	want := map[string]string{
		"CapBnd": "0000000000002021", "CapPrm": "0000000000000021", "CapEff": "0000000000000021",
		"CapInh": "0000000000000000", "CapAmb": "0000000000000000",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %q, want %q", k, got[k], v)
		}
	}
}

// TestAmbientNonRoot: a non-root process keeps caps across execve only via
// the ambient set, which must be inheritable and permitted too.
func TestAmbientNonRoot(t *testing.T) {
	e := newEnv(t)
	out := e.runScript("cat /proc/self/status", func(s *specs.Spec) {
		c := []string{"CAP_NET_BIND_SERVICE"}
		s.Process.User = specs.User{UID: 1000, GID: 1000}
		s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: c, Permitted: c, Effective: c, Inheritable: c, Ambient: c}
	})
	got := procStatus(out, "CapEff", "CapAmb")
	for _, k := range []string{"CapEff", "CapAmb"} {
		if got[k] != "0000000000000400" { // CAP_NET_BIND_SERVICE=10
			t.Errorf("uid 1000 with ambient NET_BIND_SERVICE: %s %q, want 0000000000000400", k, got[k])
		}
	}
}

func TestArgsPassedVerbatim(t *testing.T) {
	e := newEnv(t)
	out := e.runScript("", withArgs("sh", "-c", `for a in "$@"; do echo "[$a]"; done`, "argv0", "two words", "", "*"))
	if got, want := strings.TrimSpace(out), "[two words]\n[]\n[*]"; got != want {
		t.Errorf("args inside: %q, want %q", got, want)
	}
}

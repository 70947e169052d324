package runtime

import (
	"reflect"
	goruntime "runtime"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestCheckTerminal(t *testing.T) {
	for _, c := range []struct {
		tty, detach bool
		sock        string
		ok          bool
	}{
		{false, false, "", true}, {true, false, "", true}, {true, true, "/s", true}, {false, true, "", true},
		{true, true, "", false}, {false, true, "/s", false}, {true, false, "/s", false},
	} {
		if err := checkTerminal(c.tty, c.detach, c.sock); (err == nil) != c.ok {
			t.Errorf("checkTerminal(tty=%v, detach=%v, %q) = %v, want ok=%v", c.tty, c.detach, c.sock, err, c.ok)
		}
	}
}

func TestParseSubCgroups(t *testing.T) {
	got, err := parseSubCgroups([]string{"memory,pids:a/b", "cpu:c"})
	want := map[string]string{"memory": "a/b", "pids": "a/b", "cpu": "c"}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, %v; want %v", got, err, want)
	}
	if got, err := parseSubCgroups([]string{"sub"}); err != nil || got[""] != "sub" {
		t.Errorf("plain path: %v, %v", got, err)
	}
	for _, bad := range [][]string{{"memory:"}, {"a", "b"}, {"pids:x", "pids:y"}} {
		if _, err := parseSubCgroups(bad); err == nil {
			t.Errorf("parseSubCgroups(%q) accepted", bad)
		}
	}
}

func TestParseUser(t *testing.T) {
	if u, g, err := parseUser("1000:1001"); err != nil || u != 1000 || g != 1001 {
		t.Errorf("1000:1001 -> %d %d %v", u, g, err)
	}
	for _, bad := range []string{"root", "1:x", "-1", ""} {
		if _, _, err := parseUser(bad); err == nil {
			t.Errorf("parseUser(%q) accepted", bad)
		}
	}
}

func TestExecProcessFromFlags(t *testing.T) {
	c := &Container{Spec: &specs.Spec{Process: &specs.Process{
		Args: []string{"init"}, Env: []string{"A=1"}, Cwd: "/work", User: specs.User{UID: 5, GID: 6},
		Capabilities:    &specs.LinuxCapabilities{Bounding: []string{"CAP_KILL"}, Inheritable: []string{"CAP_CHOWN"}},
		NoNewPrivileges: true, Terminal: true, Rlimits: []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 9, Soft: 9}},
	}}}
	no := false
	p, err := c.ExecProcess("", ProcessFlags{Args: []string{"sh"}, Env: []string{"B=2"}, User: "7", Caps: []string{"CAP_CHOWN"}, NoNewPrivs: &no})
	if err != nil {
		t.Fatal(err)
	}
	if p.Args[0] != "sh" || p.Cwd != "/work" || !reflect.DeepEqual(p.Env, []string{"A=1", "B=2"}) || p.Terminal ||
		p.User.UID != 7 || p.User.GID != 6 || p.NoNewPrivileges || len(p.Rlimits) != 1 {
		t.Errorf("process %+v", p)
	}
	if pc := p.Capabilities; !reflect.DeepEqual(pc.Bounding, []string{"CAP_KILL", "CAP_CHOWN"}) || !reflect.DeepEqual(pc.Ambient, []string{"CAP_CHOWN"}) {
		t.Errorf("caps %+v", pc)
	}
	if c.Spec.Process.Args[0] != "init" || len(c.Spec.Process.Env) != 1 || len(c.Spec.Process.Capabilities.Bounding) != 1 {
		t.Error("ExecProcess changed the container's config")
	}
	for _, f := range []ProcessFlags{{}, {Args: []string{"x"}, Cwd: "rel"}, {Args: []string{"x"}, Caps: []string{"CAP_NOPE"}}} {
		if _, err := c.ExecProcess("", f); err == nil {
			t.Errorf("ExecProcess(%+v) accepted", f)
		}
	}
	// LSM labels are carried to the init, which applies them when the LSM
	// is enabled (initproc/lsm.go).
	p, err = c.ExecProcess("", ProcessFlags{Args: []string{"x"}, Apparmor: "prof", Label: "lbl"})
	if err != nil || p.ApparmorProfile != "prof" || p.SelinuxLabel != "lbl" {
		t.Errorf("LSM flags: process %+v, err %v", p, err)
	}
}

func TestPlanJoinedTimeNS(t *testing.T) {
	s := &specs.Spec{Linux: &specs.Linux{Namespaces: []specs.LinuxNamespace{
		{Type: specs.TimeNamespace, Path: "/t"}, {Type: specs.NetworkNamespace, Path: "/n"}, {Type: specs.MountNamespace, Path: "/m"},
	}}}
	p, err := planNamespaces(s)
	if err != nil {
		t.Fatal(err)
	}
	// setns(CLONE_NEWTIME) fails with EUSERS from a threaded process: the
	// constructor joins it, first.
	if p.cEnter != "time:/t,mnt:/m" || !reflect.DeepEqual(p.setns, []string{"/n"}) {
		t.Errorf("cEnter %q setns %v", p.cEnter, p.setns)
	}
}

// TestInitBinaryChoice: the cgo build runs only when its constructor has
// work to do.
func TestInitBinaryChoice(t *testing.T) {
	if goruntime.GOARCH != "amd64" {
		t.Skip("the pure-Go init's entry point is amd64 only")
	}
	for _, c := range []struct {
		plan nsPlan
		want string
	}{
		{nsPlan{}, initBinaryName},
		{nsPlan{clone: 0x7e020000}, initBinaryName},
		{nsPlan{cEnter: "mnt:/proc/1/ns/mnt"}, nsenterBinaryName},
		{nsPlan{forkPid: true}, nsenterBinaryName},
		{nsPlan{unshare: 0x20000}, nsenterBinaryName},
	} {
		if got := c.plan.initBinary(); got != c.want {
			t.Errorf("%+v: %s, want %s", c.plan, got, c.want)
		}
	}
}

package caps

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/moby/sys/capability"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		caps *specs.LinuxCapabilities
		want string // substring of the error; "" for success
	}{
		{nil, ""},
		{&specs.LinuxCapabilities{}, ""},
		{&specs.LinuxCapabilities{Bounding: []string{"CAP_CHOWN", "CAP_CHECKPOINT_RESTORE"}}, ""},
		{&specs.LinuxCapabilities{Effective: []string{"CAP_FOO"}},
			`process.capabilities.effective: unknown capability "CAP_FOO"`},
		{&specs.LinuxCapabilities{Ambient: []string{"cap_chown"}},
			`process.capabilities.ambient: unknown capability "cap_chown" (names are upper case: "CAP_CHOWN")`},
		{&specs.LinuxCapabilities{Permitted: []string{"CHOWN"}},
			`process.capabilities.permitted: unknown capability "CHOWN" (names carry the CAP_ prefix: "CAP_CHOWN")`},
		{&specs.LinuxCapabilities{Inheritable: []string{"CAP_KILL", ""}},
			`process.capabilities.inheritable: unknown capability ""`},
	} {
		err := Validate(tc.caps)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("Validate(%+v) = %v, want nil", tc.caps, err)
		case tc.want != "" && (err == nil || err.Error() != tc.want):
			t.Errorf("Validate(%+v) = %v, want %q", tc.caps, err, tc.want)
		}
		if _, perr := Prepare(tc.caps); (perr == nil) != (err == nil) {
			t.Errorf("Prepare and Validate disagree on %+v: %v vs %v", tc.caps, perr, err)
		}
	}
}

func TestPrepareAmbientNeedsPermittedAndInheritable(t *testing.T) {
	// Not inheritable: dropped from ambient (debug log), as runc does.
	dropped, err := Prepare(&specs.LinuxCapabilities{
		Permitted: []string{"CAP_NET_RAW"},
		Ambient:   []string{"CAP_NET_RAW"},
	})
	if err != nil || len(dropped.Ambient) != 0 {
		t.Fatalf("got %v, ambient %v; want the cap dropped from ambient", err, dropped.Ambient)
	}
	s, err := Prepare(&specs.LinuxCapabilities{
		Permitted:   []string{"CAP_NET_RAW"},
		Inheritable: []string{"CAP_NET_RAW"},
		Ambient:     []string{"CAP_NET_RAW"},
	})
	if err != nil || len(s.Ambient) != 1 || s.Ambient[0] != capability.CAP_NET_RAW {
		t.Fatalf("got %+v, %v", s, err)
	}
}

func TestPrepareSkipsCapsUnknownToKernel(t *testing.T) {
	old := lastCap
	lastCap = func() (capability.Cap, error) { return capability.CAP_PERFMON, nil }
	defer func() { lastCap = old }()
	s, err := Prepare(&specs.LinuxCapabilities{
		Bounding:  []string{"CAP_CHOWN", "CAP_BPF", "CAP_CHECKPOINT_RESTORE"},
		Effective: []string{"CAP_BPF", "CAP_PERFMON"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(s.Bounding, s.Effective); got != fmt.Sprint(
		[]capability.Cap{capability.CAP_CHOWN}, []capability.Cap{capability.CAP_PERFMON}) {
		t.Errorf("sets = %s", got)
	}
	if got := strings.Join(s.Warnings, ","); got != "CAP_BPF,CAP_CHECKPOINT_RESTORE" {
		t.Errorf("warnings = %q", got)
	}
}

func TestNilSetIsNoop(t *testing.T) {
	s, err := Prepare(nil)
	if s != nil || err != nil {
		t.Fatalf("Prepare(nil) = %v, %v", s, err)
	}
	if s.DropBounding() != nil || s.ApplyFinal() != nil {
		t.Fatal("nil Set methods must do nothing")
	}
}

// childEnv carries a JSON childCase to the re-executed test binary.
const childEnv = "GOCKER_CAPS_TEST_CHILD"

type childCase struct {
	Caps specs.LinuxCapabilities
	UID  int
	// Dirty starts the child with inheritable = permitted and CAP_NET_RAW
	// ambient, as a leaky parent would (the CVE-2022-29162 situation), so
	// the test proves ApplyFinal clears them.
	Dirty bool
}

func TestMain(m *testing.M) {
	if v := os.Getenv(childEnv); v != "" {
		os.Exit(runChild(v))
	}
	os.Exit(m.Run())
}

// runChild does what the container init does, in the same order and on one
// OS thread, then execs busybox to print the exec'd process's sets.
func runChild(v string) int {
	runtime.LockOSThread()
	var c childCase
	if err := json.Unmarshal([]byte(v), &c); err != nil {
		fmt.Println("ERR", err)
		return 3
	}
	var err error
	if c.Dirty {
		err = makeDirty()
	}
	var s *Set
	if err == nil {
		s, err = Prepare(&c.Caps)
	}
	if err == nil {
		err = s.DropBounding()
	}
	if err == nil && c.UID != 0 {
		err = switchUser(c.UID)
	}
	if err == nil {
		err = s.ApplyFinal()
	}
	if err != nil {
		fmt.Println("ERR", err)
		return 3
	}
	err = unix.Exec("/bin/busybox", []string{"busybox", "grep", "Cap", "/proc/self/status"}, []string{})
	fmt.Println("ERR exec", err)
	return 3
}

func makeDirty() error {
	c, err := capability.NewPid2(0)
	if err == nil {
		err = c.Load()
	}
	if err != nil {
		return err
	}
	for _, cp := range capability.ListKnown() {
		if c.Get(capability.PERMITTED, cp) {
			c.Set(capability.INHERITABLE, cp)
		}
	}
	if err := c.Apply(capability.CAPS); err != nil {
		return err
	}
	return capability.SetAmbient(true, capability.CAP_NET_RAW)
}

func switchUser(uid int) error {
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
		return err
	}
	if err := unix.Setgroups(nil); err != nil {
		return err
	}
	if err := unix.Setgid(uid); err != nil {
		return err
	}
	return unix.Setuid(uid)
}

type masks struct{ Inh, Prm, Eff, Bnd, Amb uint64 }

func bits(cs ...capability.Cap) uint64 {
	var m uint64
	for _, c := range cs {
		m |= 1 << uint(c)
	}
	return m
}

func runCase(t *testing.T, c childCase) (masks, string) {
	t.Helper()
	js, _ := json.Marshal(c)
	cmd := exec.Command("/proc/self/exe", "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+string(js))
	out, err := cmd.CombinedOutput()
	if err != nil {
		return masks{}, fmt.Sprintf("%v: %s", err, out)
	}
	var m masks
	dst := map[string]*uint64{"CapInh:": &m.Inh, "CapPrm:": &m.Prm, "CapEff:": &m.Eff, "CapBnd:": &m.Bnd, "CapAmb:": &m.Amb}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && dst[f[0]] != nil {
			v, err := strconv.ParseUint(f[1], 16, 64)
			if err != nil {
				t.Fatalf("parse %q: %v", line, err)
			}
			*dst[f[0]] = v
			delete(dst, f[0])
		}
	}
	if len(dst) != 0 {
		t.Fatalf("missing fields in child output %q", out)
	}
	return m, ""
}

func needRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("needs /bin/busybox")
	}
}

var dockerDefault = []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
	"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
	"CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"}

var dockerMask = bits(capability.CAP_CHOWN, capability.CAP_DAC_OVERRIDE, capability.CAP_FSETID,
	capability.CAP_FOWNER, capability.CAP_MKNOD, capability.CAP_NET_RAW, capability.CAP_SETGID,
	capability.CAP_SETUID, capability.CAP_SETFCAP, capability.CAP_SETPCAP, capability.CAP_NET_BIND_SERVICE,
	capability.CAP_SYS_CHROOT, capability.CAP_KILL, capability.CAP_AUDIT_WRITE)

// TestApplyExec checks the sets of the exec'd process, which follow the
// execve rules of capabilities(7): for uid 0 without file capabilities
// P' = bounding | inheritable | ambient and E' = P'; for another uid
// P' = E' = ambient. Inheritable, bounding and ambient carry over.
func TestApplyExec(t *testing.T) {
	needRoot(t)
	nbs, raw, chown := capability.CAP_NET_BIND_SERVICE, capability.CAP_NET_RAW, capability.CAP_CHOWN
	for _, tc := range []struct {
		name string
		c    childCase
		want masks
	}{
		{"root docker defaults, empty inheritable (CVE-2022-29162)",
			childCase{Dirty: true, Caps: specs.LinuxCapabilities{Bounding: dockerDefault, Effective: dockerDefault, Permitted: dockerDefault}},
			masks{Inh: 0, Prm: dockerMask, Eff: dockerMask, Bnd: dockerMask}},
		{"root all sets empty",
			childCase{Dirty: true},
			masks{}},
		{"root bounding only",
			childCase{Caps: specs.LinuxCapabilities{Bounding: []string{"CAP_CHOWN", "CAP_KILL"}}},
			masks{Prm: bits(chown, capability.CAP_KILL), Eff: bits(chown, capability.CAP_KILL), Bnd: bits(chown, capability.CAP_KILL)}},
		{"user with ambient keeps them across exec",
			childCase{UID: 1000, Caps: specs.LinuxCapabilities{
				Bounding:    []string{"CAP_NET_BIND_SERVICE", "CAP_NET_RAW", "CAP_CHOWN"},
				Effective:   []string{"CAP_NET_BIND_SERVICE", "CAP_NET_RAW"},
				Permitted:   []string{"CAP_NET_BIND_SERVICE", "CAP_NET_RAW"},
				Inheritable: []string{"CAP_NET_BIND_SERVICE", "CAP_NET_RAW"},
				Ambient:     []string{"CAP_NET_BIND_SERVICE", "CAP_NET_RAW"}}},
			masks{Inh: bits(nbs, raw), Prm: bits(nbs, raw), Eff: bits(nbs, raw), Bnd: bits(nbs, raw, chown), Amb: bits(nbs, raw)}},
		{"user without ambient loses permitted, inheritable stays",
			childCase{UID: 1000, Caps: specs.LinuxCapabilities{
				Bounding: dockerDefault, Effective: dockerDefault, Permitted: dockerDefault,
				Inheritable: []string{"CAP_NET_RAW"}}},
			masks{Inh: bits(raw), Bnd: dockerMask}},
		{"user with empty inheritable (CVE-2022-29162)",
			childCase{UID: 1000, Dirty: true, Caps: specs.LinuxCapabilities{
				Bounding: dockerDefault, Effective: dockerDefault, Permitted: dockerDefault}},
			masks{Bnd: dockerMask}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, errOut := runCase(t, tc.c)
			if errOut != "" {
				t.Fatalf("child failed: %s", errOut)
			}
			if got != tc.want {
				t.Errorf("got  %s\nwant %s", fmtMasks(got), fmtMasks(tc.want))
			}
		})
	}
}

func fmtMasks(m masks) string {
	return fmt.Sprintf("Inh %016x Prm %016x Eff %016x Bnd %016x Amb %016x", m.Inh, m.Prm, m.Eff, m.Bnd, m.Amb)
}

// An inheritable capability outside the bounding set cannot be granted
// (capset(2): EPERM); ApplyFinal must say so, not silently carry on.
func TestApplyInheritableOutsideBounding(t *testing.T) {
	needRoot(t)
	_, errOut := runCase(t, childCase{Caps: specs.LinuxCapabilities{
		Bounding:    []string{"CAP_CHOWN"},
		Permitted:   []string{"CAP_CHOWN"},
		Inheritable: []string{"CAP_NET_RAW"},
	}})
	if !strings.Contains(errOut, "ERR capset") || !strings.Contains(errOut, "operation not permitted") {
		t.Fatalf("want a capset EPERM error, got %q", errOut)
	}
}

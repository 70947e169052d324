package initproc

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// With the LSMs disabled (this host), labels are ignored, as in runc.
func TestLSMDisabledIgnored(t *testing.T) {
	aa, se := apparmorEnabled, selinuxEnabled
	defer func() { apparmorEnabled, selinuxEnabled = aa, se }()
	apparmorEnabled = func() bool { return false }
	selinuxEnabled = func() bool { return false }
	ps := &specs.Process{ApparmorProfile: "acme", SelinuxLabel: "system_u:system_r:container_t:s0"}
	if err := applyLSM(ps); err != nil {
		t.Fatalf("disabled LSMs: %v", err)
	}
}

// With AppArmor "enabled" but no apparmor attr files reachable, the error
// names the field: a profile that cannot be applied is never dropped
// silently when the LSM is on.
func TestLSMEnabledErrorNamesField(t *testing.T) {
	aa := apparmorEnabled
	defer func() { apparmorEnabled = aa }()
	apparmorEnabled = func() bool { return true }
	if _, err := openProcRoot("/proc"); err != nil {
		t.Skipf("no procfs: %v", err)
	}
	// This kernel has no AppArmor, so the write is refused.
	err := applyLSM(&specs.Process{ApparmorProfile: "acme"})
	if err == nil {
		t.Skip("the kernel accepted an AppArmor exec label: AppArmor is really on")
	}
	if want := `process.apparmorProfile "acme"`; len(err.Error()) < len(want) || err.Error()[:len(want)] != want {
		t.Fatalf("error %q does not name the field", err)
	}
}

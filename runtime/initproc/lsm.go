package initproc

import (
	"errors"
	"fmt"
	"os"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Linux security modules. The labels are written to the calling thread's
// /proc/self/attr/*/exec, which the kernel applies at the next execve
// (proc(5), "/proc/pid/attr/exec"), so this runs right before it, through
// the verified procfs of the container (CVE-2025-52881).
//
// Rules when the LSM is not enabled, as runc's: the setting is ignored
// (runc's apparmor.ApplyProfile and selinux.SetExecLabel are no-ops then).
// This host has neither LSM, so only that path is exercised here.

var (
	apparmorEnabled = func() bool {
		b, err := os.ReadFile("/sys/module/apparmor/parameters/enabled")
		return err == nil && strings.HasPrefix(string(b), "Y")
	}
	selinuxEnabled = func() bool {
		_, err := os.Stat("/sys/fs/selinux/enforce")
		return err == nil
	}
)

// applyLSM sets process.apparmorProfile and process.selinuxLabel for the
// coming execve.
func applyLSM(ps *specs.Process) error {
	if ps.ApparmorProfile != "" && apparmorEnabled() {
		// Kernels since 5.1 have the per-LSM directory; older ones only
		// the shared attr/exec.
		err := writeProc("self/attr/apparmor/exec", []byte("exec "+ps.ApparmorProfile))
		if errors.Is(err, os.ErrNotExist) {
			err = writeProc("self/attr/exec", []byte("exec "+ps.ApparmorProfile))
		}
		if err != nil {
			return fmt.Errorf("process.apparmorProfile %q: %w", ps.ApparmorProfile, err)
		}
	}
	if ps.SelinuxLabel != "" && selinuxEnabled() {
		if err := writeProc("self/attr/exec", []byte(ps.SelinuxLabel)); err != nil {
			return fmt.Errorf("process.selinuxLabel %q: %w", ps.SelinuxLabel, err)
		}
	}
	return nil
}

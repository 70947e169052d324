package runtime

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/gocker/gocker/runtime/caps"
	"github.com/gocker/gocker/runtime/rootfs"
	"github.com/gocker/gocker/runtime/seccomp"
)

// preflight checks, before anything is created, what the init would
// otherwise only find out half-way: a bad capability name, idmapped mount
// or seccomp profile then fails create with nothing to clean up. The compiled filter
// is returned, for the init (see specForInit).
func preflight(s *specs.Spec) (*seccomp.Filter, error) {
	if s.Process != nil && s.Process.Capabilities != nil {
		if err := caps.Validate(s.Process.Capabilities); err != nil {
			return nil, err
		}
	}
	if err := rootfs.ValidateIDMapped(s); err != nil {
		return nil, err
	}
	return seccomp.Compile(s.Linux.Seccomp)
}

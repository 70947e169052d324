package main

import (
	"fmt"

	mobyseccomp "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// dockerDefaultCaps is the capability set of a default `docker run`
// container (moby oci/caps DefaultCapabilities). Docker evaluates its
// profile's includes/excludes against the container's bounding set; the
// bench evaluates them against this set, so the row measures the filter a
// default root Docker container gets, whatever caps the busybox bundle has.
var dockerDefaultCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
	"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// withDockerSeccomp sets Docker's default seccomp profile as OCI
// linux.seccomp. mobyseccomp.GetDefaultProfile is the conversion dockerd
// itself does (moby daemon/seccomp_linux.go): defaultAction and
// defaultErrnoRet copied, architectures = this machine's entry of the
// profile's archMap with its sub-arches (amd64: x86_64, x86, x32), and
// each rule kept only if its includes match and its excludes do not, for
// this GOARCH, the host kernel's version (minKernel) and the bounding set
// above. The container's own capabilities are left as the bundle has them.
func withDockerSeccomp(s *specs.Spec) error {
	caps := &specs.LinuxCapabilities{Bounding: dockerDefaultCaps}
	prof, err := mobyseccomp.GetDefaultProfile(&specs.Spec{Process: &specs.Process{Capabilities: caps}})
	if err != nil {
		return fmt.Errorf("docker default seccomp profile: %w", err)
	}
	if s.Linux == nil {
		s.Linux = &specs.Linux{}
	}
	s.Linux.Seccomp = prof
	return nil
}

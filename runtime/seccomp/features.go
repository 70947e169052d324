package seccomp

import (
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// What `gocker features` reports (runtime-spec features.md, linux.seccomp).
// Each list is what Compile accepts, read from the tables it uses.

// Actions are the actions actionRet maps.
func Actions() []string {
	acts := []specs.LinuxSeccompAction{specs.ActAllow, specs.ActErrno, specs.ActKill, specs.ActKillProcess,
		specs.ActKillThread, specs.ActLog, specs.ActNotify, specs.ActTrace, specs.ActTrap}
	var out []string
	for _, a := range acts {
		if _, err := actionRet("", "", a, nil); err == nil {
			out = append(out, string(a))
		}
	}
	slices.Sort(out)
	return out
}

// Operators are the comparison operators of syscall argument rules.
func Operators() []string {
	var out []string
	for op := range ops {
		out = append(out, string(op))
	}
	slices.Sort(out)
	return out
}

// Archs are the architecture tokens a profile may list: the ones with a
// syscall table and the foreign ones accepted (and skipped).
func Archs() []string {
	var out []string
	for a := range supported {
		out = append(out, string(a))
	}
	for a := range foreign {
		out = append(out, string(a))
	}
	slices.Sort(out)
	return out
}

// KnownFlags are the linux.seccomp.flags values Compile accepts.
func KnownFlags() []string {
	var out []string
	for f := range flagBits {
		out = append(out, string(f))
	}
	slices.Sort(out)
	return out
}

// SupportedFlags are the known flags the running kernel accepts.
func SupportedFlags() []string {
	var out []string
	for f, bit := range flagBits {
		if len(unsupportedFlags(bit)) == 0 {
			out = append(out, string(f))
		}
	}
	slices.Sort(out)
	return out
}

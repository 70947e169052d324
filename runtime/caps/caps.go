// Package caps turns process.capabilities of an OCI config into the five
// Linux capability sets of the container's first process and applies them.
//
// The container's init calls, on one locked OS thread:
//
//	s, err := caps.Prepare(spec.Process.Capabilities) // early, may fail
//	s.DropBounding()                                  // still root, CAP_SETPCAP
//	prctl(PR_SET_KEEPCAPS, 1); setgroups; setgid; setuid
//	s.ApplyFinal()                                    // capset + ambient
//	... NNP, seccomp, execve from the same thread
//
// Names. The runtime-spec says capability names are the ones of
// capabilities(7) with the CAP_ prefix. Like runc we match them exactly, upper
// case ("CAP_NET_ADMIN"); "cap_net_admin" or "NET_ADMIN" are errors, so a typo
// never silently weakens or strengthens a container.
//
// Unknown names. A name the capability library does not know is an error
// (runtime-tools process_capabilities_fail expects one). A name the library
// knows but the running kernel does not (above /proc/sys/kernel/cap_last_cap)
// is skipped with a warning, as runc does, so one config runs on old kernels.
//
// A nil *specs.LinuxCapabilities means "leave the capabilities alone" (runc
// does the same); Prepare returns a nil *Set and its methods do nothing. An
// empty list means an empty set.
package caps

import (
	"fmt"
	"strings"

	"github.com/moby/sys/capability"
	"github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
)

// lastCap is the highest capability the running kernel knows; a variable so
// tests can pretend to run on an older kernel.
var lastCap = capability.LastCap

// byName maps "CAP_CHOWN" to capability.CAP_CHOWN for every capability the
// library knows.
var byName = func() map[string]capability.Cap {
	m := make(map[string]capability.Cap)
	for _, c := range capability.ListKnown() {
		m["CAP_"+strings.ToUpper(c.String())] = c
	}
	return m
}()

// Set is a prepared capability configuration: the five sets as capability
// numbers the running kernel knows, ready to apply without further parsing.
type Set struct {
	Bounding, Effective, Permitted, Inheritable, Ambient []capability.Cap
	// Warnings lists the names skipped because the kernel does not know
	// them. They are also logged.
	Warnings []string
	last     capability.Cap
}

// field pairs a set's JSON name with its list, in the spec's order.
type field struct {
	name  string
	names []string
	dst   *[]capability.Cap
}

func fields(c *specs.LinuxCapabilities, s *Set) []field {
	return []field{
		{"bounding", c.Bounding, &s.Bounding},
		{"effective", c.Effective, &s.Effective},
		{"inheritable", c.Inheritable, &s.Inheritable},
		{"permitted", c.Permitted, &s.Permitted},
		{"ambient", c.Ambient, &s.Ambient},
	}
}

// Validate returns an error for the first name that is not a capability the
// library knows, naming the set, e.g.
// `process.capabilities.effective: unknown capability "CAP_FOO"`.
// It does not consult the kernel, so it is usable at create time on any host.
func Validate(c *specs.LinuxCapabilities) error {
	if c == nil {
		return nil
	}
	for _, f := range fields(c, &Set{}) {
		for _, n := range f.names {
			if _, ok := byName[n]; !ok {
				return unknownError(f.name, n)
			}
		}
	}
	return nil
}

func unknownError(set, name string) error {
	hint := ""
	if up := strings.ToUpper(name); up != name {
		if _, ok := byName[up]; ok {
			hint = fmt.Sprintf(" (names are upper case: %q)", up)
		}
	} else if _, ok := byName["CAP_"+name]; ok {
		hint = fmt.Sprintf(" (names carry the CAP_ prefix: %q)", "CAP_"+name)
	}
	return fmt.Errorf("process.capabilities.%s: unknown capability %q%s", set, name, hint)
}

// Prepare validates c and resolves it against the running kernel. Do it
// early, before any privilege change, so errors reach the user cleanly.
//
// Ambient capabilities that are not both permitted and inheritable are
// dropped, logged at debug level (see checkAmbient).
func Prepare(c *specs.LinuxCapabilities) (*Set, error) {
	if c == nil {
		return nil, nil
	}
	if err := Validate(c); err != nil {
		return nil, err
	}
	last, err := lastCap()
	if err != nil {
		return nil, fmt.Errorf("reading the kernel's last capability: %w", err)
	}
	s := &Set{last: last}
	skipped := map[string]bool{}
	for _, f := range fields(c, s) {
		list := make([]capability.Cap, 0, len(f.names))
		for _, n := range f.names {
			cp := byName[n]
			if cp > last {
				if !skipped[n] {
					skipped[n] = true
					s.Warnings = append(s.Warnings, n)
				}
				continue
			}
			list = append(list, cp)
		}
		*f.dst = list
	}
	if len(s.Warnings) > 0 {
		logrus.Warnf("ignoring capabilities unknown to the running kernel (last_cap %d): %s",
			last, strings.Join(s.Warnings, ", "))
	}
	s.checkAmbient()
	return s, nil
}

// checkAmbient drops the ambient capabilities the kernel would refuse to
// raise. `runc spec` itself writes ambient caps that are not
// inheritable, so refusing them would reject the most common config; runc
// does not raise them either. Logged at debug level: the default config
// has them, so a warning would be noise on every container.
func (s *Set) checkAmbient() {
	perm, inh := mask(s.Permitted), mask(s.Inheritable)
	kept := s.Ambient[:0]
	var dropped []string
	for _, a := range s.Ambient {
		bit := uint64(1) << uint(a)
		if perm&bit == 0 || inh&bit == 0 {
			dropped = append(dropped, name(a))
			continue
		}
		kept = append(kept, a)
	}
	s.Ambient = kept
	if len(dropped) > 0 {
		logrus.Debugf("process.capabilities.ambient: not raising %s: an ambient capability must also be permitted and inheritable (capabilities(7))",
			strings.Join(dropped, ", "))
	}
}

func mask(list []capability.Cap) uint64 {
	var m uint64
	for _, c := range list {
		m |= 1 << uint(c)
	}
	return m
}

func name(c capability.Cap) string { return "CAP_" + strings.ToUpper(c.String()) }

// DropBounding removes from the calling thread's bounding set every
// capability not in s.Bounding (PR_CAPBSET_DROP, prctl(2)). The bounding set
// is per thread and inherited on clone and kept across execve, so doing it on
// the thread that will execve is enough. Requires CAP_SETPCAP: call it while
// still root, before setuid.
func (s *Set) DropBounding() error {
	if s == nil {
		return nil
	}
	keep := mask(s.Bounding)
	for c := capability.Cap(0); c <= s.last; c++ {
		if keep&(1<<uint(c)) != 0 {
			continue
		}
		if err := capability.DropBound(c); err != nil {
			return fmt.Errorf("dropping %s from the bounding set: %w", name(c), err)
		}
	}
	return nil
}

// ApplyFinal sets the effective, permitted and inheritable sets with
// capset(2) on the calling thread (the library's capset uses pid 0, which
// means this thread), then clears the ambient set and raises s.Ambient
// (PR_CAP_AMBIENT, prctl(2)). Call it after setuid with PR_SET_KEEPCAPS, on
// the thread that execs the user process.
//
// The inheritable set is always written, even when empty: CVE-2022-29162 was
// a runtime leaving inheritable capabilities set, which file capabilities of
// a program in the image could then turn into permitted ones.
func (s *Set) ApplyFinal() error {
	if s == nil {
		return nil
	}
	c, err := capability.NewPid2(0)
	if err != nil {
		return fmt.Errorf("capabilities: %w", err)
	}
	c.Clear(capability.CAPS | capability.AMBIENT)
	c.Set(capability.EFFECTIVE, s.Effective...)
	c.Set(capability.PERMITTED, s.Permitted...)
	c.Set(capability.INHERITABLE, s.Inheritable...)
	if err := c.Apply(capability.CAPS); err != nil {
		return fmt.Errorf("capset (effective %s, permitted %s, inheritable %s): %w",
			names(s.Effective), names(s.Permitted), names(s.Inheritable), err)
	}
	if err := capability.ResetAmbient(); err != nil {
		return fmt.Errorf("clearing the ambient set: %w", err)
	}
	for _, a := range s.Ambient {
		if err := capability.SetAmbient(true, a); err != nil {
			return fmt.Errorf("raising ambient %s: %w", name(a), err)
		}
	}
	return nil
}

func names(list []capability.Cap) string {
	if len(list) == 0 {
		return "[]"
	}
	out := make([]string, len(list))
	for i, c := range list {
		out[i] = name(c)
	}
	return "[" + strings.Join(out, " ") + "]"
}

//go:build amd64

package seccomp

import (
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// refEval says what a filter for s must return for one syscall, written
// straight from the semantics in the package doc, with none of the
// compiler's machinery (no intervals, no BPF, no per-ABI maps).

var refRet = map[specs.LinuxSeccompAction]uint32{
	specs.ActKill: 0, specs.ActKillThread: 0, specs.ActKillProcess: 0x80000000,
	specs.ActTrap: 0x30000, specs.ActErrno: 0x50000, specs.ActTrace: 0x7ff00000,
	specs.ActAllow: 0x7fff0000, specs.ActLog: 0x7ffc0000, specs.ActNotify: 0x7fc00000,
}

func refAction(a specs.LinuxSeccompAction, errno *uint) uint32 {
	r := refRet[a]
	if a == specs.ActErrno || a == specs.ActTrace {
		if errno == nil {
			return r | 1 // EPERM
		}
		return r | uint32(*errno)
	}
	return r
}

// refABI picks the sysTable column the kernel input belongs to, or -1 for
// the bad-arch action.
func refABI(s *specs.LinuxSeccomp, d *seccompData) int {
	listed := func(a specs.Arch) bool {
		for _, x := range s.Architectures {
			if x == a {
				return true
			}
		}
		return false
	}
	switch d.arch {
	case 0xc000003e: // AUDIT_ARCH_X86_64, native on amd64
		if d.nr >= 0x40000000 && d.nr != 0xffffffff { // libseccomp: jge, not jset
			if listed(specs.ArchX32) {
				return 2
			}
			return -1
		}
		return 0
	case 0x40000003:
		if listed(specs.ArchX86) {
			return 1
		}
	}
	return -1
}

var refMaps = map[int]map[string]uint32{}

func refNumber(col int, name string) (uint32, bool) {
	m := refMaps[col]
	if m == nil {
		m = map[string]uint32{}
		for _, e := range sysTable {
			if e.nr[col] != noSys {
				m[e.name] = e.nr[col]
			}
		}
		refMaps[col] = m
	}
	nr, ok := m[name]
	return nr, ok
}

func refCmp(c specs.LinuxSeccompArg, arg uint64, bits32 bool) bool {
	v, two := c.Value, c.ValueTwo
	if bits32 {
		arg, v, two = uint64(uint32(arg)), uint64(uint32(v)), uint64(uint32(two))
	}
	switch c.Op {
	case specs.OpEqualTo:
		return arg == v
	case specs.OpNotEqual:
		return arg != v
	case specs.OpLessThan:
		return arg < v
	case specs.OpLessEqual:
		return arg <= v
	case specs.OpGreaterThan:
		return arg > v
	case specs.OpGreaterEqual:
		return arg >= v
	case specs.OpMaskedEqual:
		return arg&v == two&v
	}
	panic("bad op")
}

func refMatch(args []specs.LinuxSeccompArg, d *seccompData, bits32 bool) bool {
	dup := map[uint]int{}
	for _, a := range args {
		dup[a.Index]++
	}
	split := false
	for _, n := range dup {
		split = split || n > 1
	}
	for _, a := range args {
		ok := refCmp(a, d.args[a.Index], bits32)
		if split && ok {
			return true // one rule per condition, ORed (runc)
		}
		if !split && !ok {
			return false
		}
	}
	return !split
}

func refEval(s *specs.LinuxSeccomp, d *seccompData) uint32 {
	table := refABI(s, d)
	if table < 0 {
		return unix.SECCOMP_RET_KILL_PROCESS
	}
	bits32 := d.arch == 0x40000003
	def := refAction(s.DefaultAction, s.DefaultErrnoRet)
	var maxNr uint32
	named := false
	var uncon *uint32
	var condRet *uint32
	for _, r := range s.Syscalls {
		ret := refAction(r.Action, r.ErrnoRet)
		for _, n := range r.Names {
			nr, ok := refNumber(table, n)
			if !ok {
				continue
			}
			named = true
			if nr > maxNr {
				maxNr = nr
			}
			if nr != d.nr || ret == def {
				continue
			}
			if len(r.Args) == 0 {
				if uncon == nil {
					uncon = &ret
				}
			} else if condRet == nil && refMatch(r.Args, d, bits32) {
				condRet = &ret
			}
		}
	}
	switch {
	case uncon != nil:
		return *uncon
	case condRet != nil:
		return *condRet
	}
	allowish := s.DefaultAction == specs.ActAllow || s.DefaultAction == specs.ActLog
	if !allowish && named && d.nr > maxNr && maxNr != 0xffffffff {
		return unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)
	}
	return def
}

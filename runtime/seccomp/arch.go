package seccomp

import (
	"runtime"

	"github.com/opencontainers/runtime-spec/specs-go"
)

// AUDIT_ARCH_* values (linux/audit.h): what the kernel puts in
// seccomp_data.arch. x32 has no value of its own: it reports
// AUDIT_ARCH_X86_64 and sets bit 30 of the syscall number.
const (
	auditX86_64  = 0xc000003e
	auditI386    = 0x40000003
	auditAARCH64 = 0xc00000b7

	x32Bit = 0x40000000
)

// abi is one syscall numbering the filter can see. Several ABIs may share
// an audit arch (x86_64 and x32).
type abi struct {
	token specs.Arch
	audit uint32
	col   int    // column in sysTable
	base  uint32 // added to every number (x32Bit for x32)
	// bits32 marks ABIs whose syscall arguments are 32 bits: like
	// libseccomp we compare only the low word there, with the rule's value
	// truncated to 32 bits.
	bits32 bool
}

var (
	abiX86_64  = &abi{specs.ArchX86_64, auditX86_64, 0, 0, false}
	abiX86     = &abi{specs.ArchX86, auditI386, 1, 0, true}
	abiX32     = &abi{specs.ArchX32, auditX86_64, 2, x32Bit, false}
	abiAARCH64 = &abi{specs.ArchAARCH64, auditAARCH64, 3, 0, false}
	allABIs    = []*abi{abiX86_64, abiX86, abiX32, abiAARCH64}
)

// supported are the ABIs we have syscall tables for.
var supported = map[specs.Arch]*abi{
	specs.ArchX86_64: abiX86_64, specs.ArchX32: abiX32,
	specs.ArchX86: abiX86, specs.ArchAARCH64: abiAARCH64,
}

// foreign are the other tokens of the runtime-spec. They are valid in a
// profile, but a CPU of our native families never reports them (a profile
// written for many hosts lists them all), so they are accepted and left out.
// The exception is 32-bit ARM on an arm64 host: without a table its
// syscalls get the bad-arch action, which denies rather than allows.
var foreign = map[specs.Arch]bool{
	specs.ArchARM: true, specs.ArchMIPS: true, specs.ArchMIPS64: true, specs.ArchMIPS64N32: true,
	specs.ArchMIPSEL: true, specs.ArchMIPSEL64: true, specs.ArchMIPSEL64N32: true,
	specs.ArchPPC: true, specs.ArchPPC64: true, specs.ArchPPC64LE: true,
	specs.ArchS390: true, specs.ArchS390X: true, specs.ArchPARISC: true, specs.ArchPARISC64: true,
	specs.ArchRISCV64: true, specs.ArchLOONGARCH64: true, specs.ArchM68K: true,
	specs.ArchSH: true, specs.ArchSHEB: true,
}

// nativeABI is the ABI of the Go port we run as. libseccomp always includes
// the native architecture in a filter; so do we.
func nativeABI() *abi {
	switch runtime.GOARCH {
	case "amd64":
		return abiX86_64
	case "386":
		return abiX86
	case "arm64":
		return abiAARCH64
	}
	return nil
}

// lookupRow finds name in sysTable (one binary search for all ABIs), or
// returns -1 for a name no table has: probably a typo, or a syscall newer
// than the tables.
func lookupRow(name string) int {
	const mask = len(sysIndex) - 1
	for h := int(sysHash(name)) & mask; sysIndex[h] != 0; h = (h + 1) & mask {
		if row := int(sysIndex[h]) - 1; sysTable[row].name == name {
			return row
		}
	}
	return -1
}

// lookup returns the number of syscall name in a, or false.
func (a *abi) lookup(name string) (uint32, bool) {
	if r := lookupRow(name); r >= 0 && sysTable[r].nr[a.col] != noSys {
		return sysTable[r].nr[a.col], true
	}
	return 0, false
}

// maxLow bounds syscall numbers (without the x32 bit) in every table; the
// generator checks it, so per-ABI rules can live in a dense array.
const maxLow = 1024

// Package seccomp compiles the OCI linux.seccomp object into a classic BPF
// program in pure Go and loads it with seccomp(2). No libseccomp, no cgo:
// the gocker binary stays static and compiling Docker's default profile
// takes tens of microseconds.
//
// Semantics follow runc + libseccomp, which is what profiles are written
// against:
//   - the native architecture is always in the filter; a syscall from an
//     architecture not in the filter gets the bad-arch action, which is
//     SCMP_ACT_KILL_PROCESS here (libseccomp: KILL, i.e. the thread; killing
//     the whole process leaves no half-dead container behind);
//   - x86_64 syscall numbers with bit 30 set are x32 syscalls: they are
//     filtered by the x32 rules if SCMP_ARCH_X32 is listed, otherwise they get
//     the bad-arch action; -1 (a tracer skipping a syscall) is not x32;
//   - an unknown syscall name is skipped with a warning; a rule none of whose
//     names is known is an error (a typo must not silently allow or deny);
//   - a rule whose action equals the default action is skipped (runc);
//   - for one syscall an unconditional rule wins over conditional ones, and
//     the first unconditional rule wins over later ones (libseccomp);
//   - conditional rules for one syscall are ORed and tried in profile order,
//     the first matching one decides (libseccomp orders overlapping rules
//     with different actions internally; profile order is predictable);
//   - the conditions of one rule are ANDed, except that a rule with two
//     conditions on the same argument is split into one rule per condition
//     (runc does this, because libseccomp rejects such a rule);
//   - comparisons are unsigned 64-bit, done on two 32-bit halves; on 32-bit
//     ABIs (x86) only the low half is compared, against the value truncated
//     to 32 bits (libseccomp); SCMP_CMP_MASKED_EQ compares
//     (arg & value) == (valueTwo & value) (libseccomp masks the datum);
//   - when the default action is neither ALLOW nor LOG, syscall numbers above
//     the highest one the profile names get ERRNO(ENOSYS) instead of the
//     default action, as runc's patchbpf does, so that libc falls back from a
//     syscall newer than the profile (clone3, faccessat2, ...) instead of
//     failing with EPERM.
package seccomp

import (
	"fmt"
	"strings"

	"github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// Filter is a compiled profile, ready to Install.
type Filter struct {
	prog   []unix.SockFilter
	flags  uintptr
	notify bool

	// ListenerPath and ListenerMetadata are copied from the profile for the
	// caller that sends the notify fd (see SendToListener).
	ListenerPath, ListenerMetadata string
	// Warnings lists what was skipped (unknown syscall names, shadowed
	// rules). Each is also logged at warning level.
	Warnings []string
}

// Len is the number of BPF instructions of the program.
func (f *Filter) Len() int { return len(f.prog) }

// Notify reports whether the filter has SCMP_ACT_NOTIFY rules, i.e. whether
// Install returns a listener fd that must be sent to ListenerPath.
func (f *Filter) Notify() bool { return f != nil && f.notify }

// Program returns a copy of the BPF program (for inspection and tests).
func (f *Filter) Program() []unix.SockFilter { return append([]unix.SockFilter(nil), f.prog...) }

// cond is one argument comparison, already resolved.
type cond struct {
	index uint
	op    specs.LinuxSeccompOperator
	value uint64
	two   uint64
}

// condRule is a conditional rule for one syscall.
type condRule struct {
	conds []cond
	ret   uint32
}

// sysRules is everything the profile says about one syscall name. ABIs
// share it: a rule names syscalls, whatever their numbers.
type sysRules struct {
	used     bool // some rule other than a default-action one names it
	hasUncon bool
	uncon    uint32
	unconSrc int
	conds    []condRule
}

// abiRules is the compiled input of one ABI's part of the program.
type abiRules struct {
	abi *abi
	// rows maps syscall number minus abi.base to 1 + its sysTable row (0:
	// not named), so walking it visits the numbers in order.
	rows  [maxLow]uint16
	max   uint32 // highest syscall number the profile names on this ABI
	named bool   // the profile names at least one syscall of this ABI
}

// compiler carries the state of one Compile call.
type compiler struct {
	defRet   uint32
	badArch  uint32
	enosys   bool
	abis     []*abiRules
	notify   bool
	warnings []string
	rules    [len(sysTable)]sysRules // by sysTable row
	shared   []sharedChain           // 64-bit argument checks, emitted last
	sharedL  map[*sysRules]label
}

const field = "linux.seccomp"

// Compile validates s and compiles it. A nil s gives a nil *Filter, whose
// Install does nothing. Errors name the offending field, e.g.
// `linux.seccomp.syscalls[3].action: unknown action "SCMP_ACT_FOO"`.
func Compile(s *specs.LinuxSeccomp) (*Filter, error) {
	if s == nil {
		return nil, nil
	}
	c := &compiler{badArch: unix.SECCOMP_RET_KILL_PROCESS}
	if s.DefaultAction == specs.ActNotify {
		// runc refuses too: every syscall of the init after Install, the
		// send of the listener fd included, would wait for an agent that
		// does not have the fd yet.
		return nil, fmt.Errorf("%s.defaultAction: SCMP_ACT_NOTIFY cannot be the default action", field)
	}
	def, err := actionRet(field+".defaultAction", field+".defaultErrnoRet", s.DefaultAction, s.DefaultErrnoRet)
	if err != nil {
		return nil, err
	}
	c.defRet = def
	c.enosys = s.DefaultAction != specs.ActAllow && s.DefaultAction != specs.ActLog
	if err := c.addArches(s.Architectures); err != nil {
		return nil, err
	}
	flags, err := parseFlags(s.Flags)
	if err != nil {
		return nil, err
	}
	for i := range s.Syscalls {
		if err := c.addRule(i, &s.Syscalls[i]); err != nil {
			return nil, err
		}
	}
	if err := checkListener(s, c.notify); err != nil {
		return nil, err
	}
	prog, err := c.generate()
	if err != nil {
		return nil, err
	}
	f := &Filter{
		prog: prog, notify: c.notify, Warnings: c.warnings,
		ListenerPath: s.ListenerPath, ListenerMetadata: s.ListenerMetadata,
	}
	f.flags = installFlags(flags, c.notify)
	f.LogWarnings()
	return f, nil
}

// LogWarnings logs f's warnings at warning level, as Compile does; a
// program taken from the cache logs them again.
func (f *Filter) LogWarnings() {
	if len(f.Warnings) > 0 {
		logrus.Warn("seccomp: " + strings.Join(f.Warnings, "; "))
	}
}

// libseccompPseudo are names libseccomp knows that have no number on the
// arches we build tables for: socketcall/ipc multiplexed calls of 32-bit
// x86, and syscalls of other architectures. Common profiles (Docker's,
// runtime-tools') list them; runc, whose libseccomp resolves them, says
// nothing about them, so neither do we. A truly unknown name still warns.
var libseccompPseudo = map[string]bool{
	"recv": true, "send": true,
	"arm_fadvise64_64": true, "arm_sync_file_range": true, "breakpoint": true, "cacheflush": true,
	"set_tls": true, "sync_file_range2": true, "usr26": true, "usr32": true,
	"riscv_flush_icache": true, "riscv_hwprobe": true,
	"s390_guarded_storage": true, "s390_pci_mmio_read": true, "s390_pci_mmio_write": true,
	"s390_runtime_instr": true, "s390_sthyi": true,
	"spu_create": true, "spu_run": true, "subpage_prot": true, "swapcontext": true,
	"switch_endian": true, "sys_debug_setcontext": true, "rtas": true, "multiplexer": true,
	"sysmips": true, "kern_features": true, "memory_ordering": true, "atomic_barrier": true,
	"atomic_cmpxchg_32": true, "get_thread_area": true, "set_thread_area": true,
}

func (c *compiler) warn(format string, args ...any) {
	c.warnings = append(c.warnings, fmt.Sprintf(format, args...))
}

// actionRet maps an OCI action (and its errno) to a SECCOMP_RET_* value.
func actionRet(actField, errField string, act specs.LinuxSeccompAction, errno *uint) (uint32, error) {
	var ret uint32
	switch act {
	case specs.ActKill, specs.ActKillThread:
		ret = unix.SECCOMP_RET_KILL_THREAD
	case specs.ActKillProcess:
		ret = unix.SECCOMP_RET_KILL_PROCESS
	case specs.ActTrap:
		ret = unix.SECCOMP_RET_TRAP
	case specs.ActErrno, specs.ActTrace:
		// The spec: errnoRet defaults to EPERM. For TRACE the data is the
		// value the tracer sees as the event message (runc passes it too).
		data := uint(unix.EPERM)
		if errno != nil {
			data = *errno
		}
		if data > 0xffff {
			return 0, fmt.Errorf("%s: %d does not fit the 16-bit SECCOMP_RET_DATA", errField, data)
		}
		ret = unix.SECCOMP_RET_ERRNO
		if act == specs.ActTrace {
			ret = unix.SECCOMP_RET_TRACE
		}
		return ret | uint32(data), nil
	case specs.ActAllow:
		ret = unix.SECCOMP_RET_ALLOW
	case specs.ActLog:
		ret = unix.SECCOMP_RET_LOG
	case specs.ActNotify:
		ret = unix.SECCOMP_RET_USER_NOTIF
	case "":
		return 0, fmt.Errorf("%s: missing", actField)
	default:
		return 0, fmt.Errorf("%s: unknown action %q", actField, act)
	}
	if errno != nil {
		// The spec: "When the action doesn't support an errno, the runtime
		// MUST print and error and fail."
		return 0, fmt.Errorf("%s: %s does not take an errno (only SCMP_ACT_ERRNO and SCMP_ACT_TRACE do)", errField, act)
	}
	return ret, nil
}

// addArches builds the ABI list: native first (it is checked first, so the
// common case costs one comparison), then the listed ones of the native
// family, in order, without duplicates.
func (c *compiler) addArches(list []specs.Arch) error {
	native := nativeABI()
	if native == nil {
		return fmt.Errorf("%s: no syscall table for this CPU architecture", field)
	}
	seen := map[*abi]bool{native: true}
	c.abis = append(c.abis, &abiRules{abi: native})
	for i, tok := range list {
		a, ok := supported[tok]
		if !ok {
			if foreign[tok] {
				continue
			}
			return fmt.Errorf("%s.architectures[%d]: unknown architecture %q", field, i, tok)
		}
		if seen[a] || !sameFamily(native, a) {
			continue
		}
		seen[a] = true
		c.abis = append(c.abis, &abiRules{abi: a})
	}
	return nil
}

// sameFamily says whether a CPU running native can issue syscalls of a.
func sameFamily(native, a *abi) bool {
	x86 := func(b *abi) bool { return b == abiX86_64 || b == abiX86 || b == abiX32 }
	if native == abiX86_64 {
		return x86(a)
	}
	return native == a
}

var flagBits = map[specs.LinuxSeccompFlag]uintptr{
	"SECCOMP_FILTER_FLAG_TSYNC":            unix.SECCOMP_FILTER_FLAG_TSYNC,
	specs.LinuxSeccompFlagLog:              unix.SECCOMP_FILTER_FLAG_LOG,
	specs.LinuxSeccompFlagSpecAllow:        unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW,
	specs.LinuxSeccompFlagWaitKillableRecv: unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
}

func parseFlags(list []specs.LinuxSeccompFlag) (uintptr, error) {
	var flags uintptr
	for i, f := range list {
		b, ok := flagBits[f]
		if !ok {
			return 0, fmt.Errorf("%s.flags[%d]: unknown flag %q", field, i, f)
		}
		flags |= b
	}
	return flags, nil
}

// installFlags adds what notify needs. The kernel rejects TSYNC together
// with NEW_LISTENER unless TSYNC_ESRCH is set (both would use the return
// value), and WAIT_KILLABLE_RECV without NEW_LISTENER; like libseccomp we
// apply WAIT_KILLABLE_RECV only when there is a listener.
func installFlags(flags uintptr, notify bool) uintptr {
	if !notify {
		return flags &^ unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
	}
	flags |= unix.SECCOMP_FILTER_FLAG_NEW_LISTENER
	if flags&unix.SECCOMP_FILTER_FLAG_TSYNC != 0 {
		flags |= unix.SECCOMP_FILTER_FLAG_TSYNC_ESRCH
	}
	return flags
}

func checkListener(s *specs.LinuxSeccomp, notify bool) error {
	if s.ListenerMetadata != "" && s.ListenerPath == "" {
		return fmt.Errorf("%s.listenerMetadata: set without listenerPath", field)
	}
	if notify && s.ListenerPath == "" {
		return fmt.Errorf("%s.listenerPath: required when SCMP_ACT_NOTIFY is used", field)
	}
	return nil
}

func (c *compiler) addRule(i int, r *specs.LinuxSyscall) error {
	at := func() string { return fmt.Sprintf("%s.syscalls[%d]", field, i) } // built only for messages
	ret, err := actionRet("", "", r.Action, r.ErrnoRet)
	if err != nil {
		// Redo with the field names, now that they are needed.
		_, err = actionRet(at()+".action", at()+".errnoRet", r.Action, r.ErrnoRet)
		return err
	}
	conds, err := parseArgs(at, r.Args)
	if err != nil {
		return err
	}
	if len(r.Names) == 0 {
		return fmt.Errorf("%s.names: must contain at least one entry", at())
	}
	known := false
	for j, name := range r.Names {
		if name == "" {
			return fmt.Errorf("%s.names[%d]: empty syscall name", at(), j)
		}
		row := lookupRow(name)
		if row < 0 {
			if !libseccompPseudo[name] {
				c.warn("%s: unknown syscall %q ignored", at(), name)
			}
			continue
		}
		known = true
		if ret != c.defRet {
			c.addTo(row, i, ret, conds)
		}
		for _, a := range c.abis {
			nr := sysTable[row].nr[a.abi.col]
			if nr == noSys {
				continue
			}
			a.named = true
			a.max = max(a.max, nr)
			if ret != c.defRet {
				a.rows[nr-a.abi.base] = uint16(row + 1)
			}
		}
	}
	if !known {
		return fmt.Errorf("%s.names: no known syscall in %q", at(), r.Names)
	}
	if ret == unix.SECCOMP_RET_USER_NOTIF {
		c.notify = true
	}
	return nil
}

func (c *compiler) addTo(row, src int, ret uint32, conds [][]cond) {
	sr := &c.rules[row]
	sr.used = true
	name := sysTable[row].name
	if conds == nil {
		switch {
		case !sr.hasUncon:
			sr.hasUncon, sr.uncon, sr.unconSrc = true, ret, src
		case sr.uncon != ret:
			c.warn("%s.syscalls[%d]: %s already has another action from syscalls[%d]; the first one wins",
				field, src, name, sr.unconSrc)
		}
		return
	}
	for _, cs := range conds {
		sr.conds = append(sr.conds, condRule{conds: cs, ret: ret})
	}
}

var ops = map[specs.LinuxSeccompOperator]bool{
	specs.OpNotEqual: true, specs.OpLessThan: true, specs.OpLessEqual: true, specs.OpEqualTo: true,
	specs.OpGreaterEqual: true, specs.OpGreaterThan: true, specs.OpMaskedEqual: true,
}

// parseArgs returns the rule's condition sets (ORed), nil for an
// unconditional rule.
func parseArgs(at func() string, args []specs.LinuxSeccompArg) ([][]cond, error) {
	if len(args) == 0 {
		return nil, nil
	}
	all := make([]cond, 0, len(args))
	var seen [6]bool
	split := false
	for j, a := range args {
		if a.Index > 5 {
			return nil, fmt.Errorf("%s.args[%d].index: %d is out of range (a syscall has 6 arguments, 0-5)", at(), j, a.Index)
		}
		if !ops[a.Op] {
			return nil, fmt.Errorf("%s.args[%d].op: unknown operator %q", at(), j, a.Op)
		}
		split = split || seen[a.Index]
		seen[a.Index] = true
		all = append(all, cond{index: a.Index, op: a.Op, value: a.Value, two: a.ValueTwo})
	}
	if !split {
		return [][]cond{all}, nil
	}
	out := make([][]cond, len(all))
	for i := range all {
		out[i] = all[i : i+1]
	}
	return out, nil
}

// String describes the filter briefly, for logs.
func (f *Filter) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "seccomp filter: %d instructions, flags %#x", len(f.prog), f.flags)
	if f.notify {
		fmt.Fprintf(&b, ", notify to %s", f.ListenerPath)
	}
	return b.String()
}

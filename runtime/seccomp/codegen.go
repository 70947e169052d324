package seccomp

import (
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Program layout:
//
//	ld  arch
//	jeq AUDIT_ARCH_<native>  -> section 0      (one compare on the hot path)
//	jeq AUDIT_ARCH_<other>   -> section 1 ...
//	ret bad-arch action
//	section: ld nr; [x86_64: x32 / -1 split]; binary search
//
// The binary search runs over intervals of syscall numbers, not single
// numbers: the number line 0..2^32-1 is cut into maximal runs that end in
// the same place (one action, or the argument checks of one syscall), so
// Docker's ~370 allowed syscalls become ~100 intervals on x86_64 and any
// syscall is decided after about 7 comparisons.

// errnoENOSYS is the return of the -ENOSYS stub (see package doc).
const errnoENOSYS = unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)

// interval is [start, next interval's start) with one outcome: a plain
// return value, or the rule checks of one syscall.
type interval struct {
	start uint32
	ret   uint32
	rules *sysRules
}

func (c *compiler) generate() ([]unix.SockFilter, error) {
	a := &asm{ins: make([]insn, 0, 1024), pos: make([]int, 0, 1024)}
	a.ld(offArch)
	// Sections grouped by audit arch: x86_64 and x32 share one.
	type section struct {
		audit uint32
		main  *abiRules
		x32   *abiRules
		l     label
	}
	var secs []*section
	byAudit := map[uint32]*section{}
	for _, ar := range c.abis {
		s := byAudit[ar.abi.audit]
		if s == nil {
			s = &section{audit: ar.abi.audit, l: a.label()}
			byAudit[ar.abi.audit] = s
			secs = append(secs, s)
		}
		if ar.abi == abiX32 {
			s.x32 = ar
		} else {
			s.main = ar
		}
	}
	for _, s := range secs {
		a.jmp(unix.BPF_JEQ, s.audit, s.l, next)
	}
	a.ret(c.badArch)
	for _, s := range secs {
		a.bind(s.l)
		a.ld(offNr)
		if s.audit == auditX86_64 {
			c.emitX86_64(a, s.main, s.x32)
			continue
		}
		c.emitTree(a, s.main)
	}
	c.emitShared(a)
	return a.assemble()
}

// emitShared emits the argument checks of 64-bit ABIs once, after every
// section: x86_64 and x32 compare arguments the same way, so their trees
// jump to one copy (ja has a 32-bit offset, so no trampolines either).
func (c *compiler) emitShared(a *asm) {
	for _, sh := range c.shared {
		a.bind(sh.l)
		c.emitChain(a, false, sh.rules)
	}
}

// emitX86_64 splits x86_64 syscall numbers: below 2^30 they are x86_64,
// 0xffffffff is "no syscall" (a tracer's skip) and goes the x86_64 way too,
// anything else with bit 30 set is x32 (arch/x86/entry/syscall_64.c).
// Without SCMP_ARCH_X32 in the filter x32 gets the bad-arch action, as with
// libseccomp.
func (c *compiler) emitX86_64(a *asm, main, x32 *abiRules) {
	tree64, other := a.label(), a.label()
	a.jmp(unix.BPF_JGE, x32Bit, next, tree64)
	a.jmp(unix.BPF_JEQ, 0xffffffff, tree64, other)
	a.bind(tree64)
	c.emitTree(a, main)
	a.bind(other)
	if x32 == nil {
		a.ret(c.badArch)
		return
	}
	c.emitTree(a, x32)
}

// intervals cuts the number line for one ABI into runs with one outcome.
func (c *compiler) intervals(ar *abiRules) []interval {
	out := make([]interval, 0, 128)
	add := func(iv interval) {
		if n := len(out); n > 0 && out[n-1].start == iv.start {
			out = out[:n-1] // an empty run: replaced
		}
		if n := len(out); n > 0 && out[n-1].rules == nil && iv.rules == nil && out[n-1].ret == iv.ret {
			return // same outcome as the previous run: extend it
		}
		out = append(out, iv)
	}
	add(interval{start: 0, ret: c.defRet})
	for idx, row := range ar.rows {
		if row == 0 {
			continue
		}
		sr := &c.rules[row-1]
		nr := ar.abi.base + uint32(idx)
		if sr.hasUncon {
			add(interval{start: nr, ret: sr.uncon})
		} else {
			add(interval{start: nr, rules: sr})
		}
		add(interval{start: nr + 1, ret: c.defRet})
	}
	if c.enosys && ar.named {
		// All rule numbers are <= max, so this only cuts the last run.
		add(interval{start: ar.max + 1, ret: errnoENOSYS})
	}
	return out
}

func (c *compiler) emitTree(a *asm, ar *abiRules) {
	ivs := c.intervals(ar)
	c.emitPooled(a, ar.abi, ivs)
}

// poolSpan bounds the intervals of a subtree that shares one pool of
// return instructions, so that its jumps reach the pool in 8 bits.
const poolSpan = 64

// emitPooled splits ivs into subtrees of at most poolSpan intervals, each
// followed by its pool of returns.
func (c *compiler) emitPooled(a *asm, ab *abi, ivs []interval) {
	if len(ivs) > poolSpan {
		mid := len(ivs) / 2
		upper := a.label()
		a.jmp(unix.BPF_JGE, ivs[mid].start, upper, next)
		c.emitPooled(a, ab, ivs[:mid])
		a.bind(upper)
		c.emitPooled(a, ab, ivs[mid:])
		return
	}
	p := &retPool{labels: map[uint32]label{}}
	c.emitSearch(a, ab, ivs, p)
	for _, k := range p.order {
		a.bind(p.labels[k])
		a.ret(k)
	}
}

// retPool is one "ret K" per value K that a subtree's leaves return: a
// comparison jumps straight to it, where a leaf of its own would be one
// instruction per interval. With Docker's profile that halves the search
// trees; every instruction costs ~0.4 µs at attach (verifier, conversion
// to eBPF, JIT), on the container's start path.
type retPool struct {
	labels map[uint32]label
	order  []uint32
}

func (p *retPool) get(a *asm, k uint32) label {
	l, ok := p.labels[k]
	if !ok {
		l = a.label()
		p.labels[k] = l
		p.order = append(p.order, k)
	}
	return l
}

// direct is the label a comparison can jump to for iv's outcome without
// an instruction of iv's own: a pooled return, or a 64-bit ABI's shared
// argument checks. ok is false for a 32-bit ABI's rules, emitted inline.
func (c *compiler) direct(a *asm, ab *abi, iv interval, p *retPool) (label, bool) {
	switch {
	case iv.rules == nil:
		return p.get(a, iv.ret), true
	case ab.bits32:
		return 0, false
	default:
		return c.sharedChain(a, iv.rules), true
	}
}

// emitSearch emits a binary search over ivs; A holds the syscall number.
// An outcome that can be jumped to is, else the lower half falls through
// and the upper half is jumped to.
func (c *compiler) emitSearch(a *asm, ab *abi, ivs []interval, p *retPool) {
	if len(ivs) == 1 { // a tree of one interval
		c.emitOutcome(a, ab, ivs[0])
		return
	}
	mid := len(ivs) / 2
	lo, hi := ivs[:mid], ivs[mid:]
	var loL, hiL label
	loDirect, hiDirect := false, false
	if len(lo) == 1 {
		loL, loDirect = c.direct(a, ab, lo[0], p)
	}
	if len(hi) == 1 {
		hiL, hiDirect = c.direct(a, ab, hi[0], p)
	}
	switch {
	case loDirect && hiDirect:
		a.jmp(unix.BPF_JGE, hi[0].start, hiL, loL)
	case loDirect:
		a.jmp(unix.BPF_JGE, hi[0].start, next, loL)
		c.emitSearch(a, ab, hi, p)
	default:
		upper := hiL
		if !hiDirect {
			upper = a.label()
		}
		a.jmp(unix.BPF_JGE, hi[0].start, upper, next)
		c.emitSearch(a, ab, lo, p)
		if !hiDirect {
			a.bind(upper)
			c.emitSearch(a, ab, hi, p)
		}
	}
}

// sharedChain is the label of rules' argument checks, emitted once after
// every section (emitShared).
func (c *compiler) sharedChain(a *asm, rules *sysRules) label {
	if c.sharedL == nil {
		c.sharedL = map[*sysRules]label{}
	}
	l, ok := c.sharedL[rules]
	if !ok {
		l = a.label()
		c.sharedL[rules] = l
		c.shared = append(c.shared, sharedChain{l, rules})
	}
	return l
}

// emitOutcome emits the decision for one interval: a return, or the
// conditional rules of one syscall tried in order, then the default.
func (c *compiler) emitOutcome(a *asm, ab *abi, iv interval) {
	switch {
	case iv.rules == nil:
		a.ret(iv.ret)
	case ab.bits32:
		c.emitChain(a, true, iv.rules)
	default:
		a.ja(c.sharedChain(a, iv.rules))
	}
}

type sharedChain struct {
	l     label
	rules *sysRules
}

func (c *compiler) emitChain(a *asm, bits32 bool, rules *sysRules) {
	conds := rules.conds
	for i := 0; i < len(conds); {
		if j := eqGroupEnd(conds, i, bits32); j-i > 1 {
			emitEqGroup(a, bits32, conds[i:j])
			i = j
			continue
		}
		r := conds[i]
		fail := a.label()
		for _, cd := range r.conds {
			emitCond(a, bits32, cd, fail)
		}
		a.ret(r.ret)
		a.bind(fail)
		i++
	}
	a.ret(c.defRet)
}

// eqGroupEnd is the end of the run of rules from i that each have one
// condition "arg N == v", with the same N and the same return (and, on a
// 64-bit ABI, the same high word of v). Docker's profile has 30 such
// rules for socket(2), one per address family.
func eqGroupEnd(conds []condRule, i int, bits32 bool) int {
	first := conds[i]
	if len(first.conds) != 1 || first.conds[0].op != specs.OpEqualTo {
		return i + 1
	}
	c0 := first.conds[0]
	j := i + 1
	for ; j < len(conds); j++ {
		r := conds[j]
		if len(r.conds) != 1 || r.ret != first.ret {
			break
		}
		cd := r.conds[0]
		if cd.op != specs.OpEqualTo || cd.index != c0.index || !bits32 && cd.value>>32 != c0.value>>32 {
			break
		}
	}
	return j
}

// emitEqGroup tests a run from eqGroupEnd with one load of the argument
// and one compare per value, where a rule each would reload it: 34
// instructions instead of 150 for socket(2) on x86_64. The rules return
// the same, so which of them matches does not matter.
func emitEqGroup(a *asm, bits32 bool, group []condRule) {
	c0 := group[0].conds[0]
	after, hit := a.label(), a.label()
	if !bits32 {
		a.ld(argHi(c0.index))
		a.jmp(unix.BPF_JEQ, uint32(c0.value>>32), next, after)
	}
	a.ld(argLo(c0.index))
	for i, r := range group {
		miss := label(next)
		if i == len(group)-1 {
			miss = after
		}
		a.jmp(unix.BPF_JEQ, uint32(r.conds[0].value), hit, miss)
	}
	a.bind(hit)
	a.ret(group[0].ret)
	a.bind(after)
}

func argLo(i uint) uint32 { return offArgs + 8*uint32(i) }     // little endian:
func argHi(i uint) uint32 { return offArgs + 8*uint32(i) + 4 } // low word first

// emitCond emits one comparison of a 64-bit argument. It falls through when
// the condition holds and jumps to fail when it does not. A 64-bit unsigned
// comparison is done on the high words first, the low words deciding only
// when the high words are equal.
func emitCond(a *asm, bits32 bool, cd cond, fail label) {
	v, two := cd.value, cd.two
	vh, vl := uint32(v>>32), uint32(v)
	if cd.op == specs.OpMaskedEqual {
		two &= v // libseccomp compares against datum & mask
	}
	th, tl := uint32(two>>32), uint32(two)
	pass := a.label()
	if !bits32 {
		emitHi(a, cd, vh, th, pass, fail)
	}
	a.ld(argLo(cd.index))
	switch cd.op {
	case specs.OpEqualTo:
		a.jmp(unix.BPF_JEQ, vl, next, fail)
	case specs.OpNotEqual:
		a.jmp(unix.BPF_JEQ, vl, fail, next)
	case specs.OpGreaterThan:
		a.jmp(unix.BPF_JGT, vl, next, fail)
	case specs.OpGreaterEqual:
		a.jmp(unix.BPF_JGE, vl, next, fail)
	case specs.OpLessThan:
		a.jmp(unix.BPF_JGE, vl, fail, next)
	case specs.OpLessEqual:
		a.jmp(unix.BPF_JGT, vl, fail, next)
	case specs.OpMaskedEqual:
		a.and(vl)
		a.jmp(unix.BPF_JEQ, tl, next, fail)
	}
	a.bind(pass)
}

// emitHi emits the high-word part: it jumps to pass (bound after the
// low-word check) when the high words already decide "true", to fail when
// they decide "false", and falls through to the low-word check when the
// high words are equal.
func emitHi(a *asm, cd cond, vh, th uint32, pass, fail label) {
	hi := argHi(cd.index)
	switch cd.op {
	case specs.OpMaskedEqual:
		if vh == 0 && th == 0 {
			return // (x & 0) == 0 always holds
		}
		a.ld(hi)
		a.and(vh)
		a.jmp(unix.BPF_JEQ, th, next, fail)
		return
	case specs.OpEqualTo:
		a.ld(hi)
		a.jmp(unix.BPF_JEQ, vh, next, fail)
		return
	}
	// NE, GT, GE, LT, LE: a high-word difference decides by itself.
	a.ld(hi)
	switch cd.op {
	case specs.OpNotEqual:
		a.jmp(unix.BPF_JEQ, vh, next, pass)
	case specs.OpGreaterThan, specs.OpGreaterEqual:
		a.jmp(unix.BPF_JGT, vh, pass, next)
		a.jmp(unix.BPF_JEQ, vh, next, fail)
	case specs.OpLessThan, specs.OpLessEqual:
		a.jmp(unix.BPF_JGT, vh, fail, next)
		a.jmp(unix.BPF_JEQ, vh, next, pass)
	}
}

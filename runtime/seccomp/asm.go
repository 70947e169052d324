package seccomp

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// A tiny classic-BPF assembler with symbolic forward labels.
//
// cBPF conditional jumps have 8-bit offsets (at most 255 instructions
// forward) and no backward jumps (the kernel's verifier rejects loops).
// Code is emitted with labels; assemble resolves them and, where a
// conditional jump is too far, routes it through an inserted "ja" (32-bit
// offset) placed right after it, repeating until everything fits.

type label int32

// next is the target "the instruction after this one".
const next label = -1

// maxInsns is BPF_MAXINSNS (include/uapi/linux/bpf_common.h): the kernel
// refuses longer seccomp programs.
const maxInsns = 4096

// seccomp_data offsets (include/uapi/linux/seccomp.h).
const (
	offNr   = 0
	offArch = 4
	offArgs = 16
)

type insn struct {
	code   uint16
	k      uint32
	jt, jf label // conditional jumps; ja uses jt
}

type asm struct {
	ins []insn
	pos []int // label -> instruction index, -1 while unbound
}

func (a *asm) label() label {
	a.pos = append(a.pos, -1)
	return label(len(a.pos) - 1)
}

// bind attaches l to the next instruction emitted.
func (a *asm) bind(l label) { a.pos[l] = len(a.ins) }

func (a *asm) ld(off uint32) {
	a.ins = append(a.ins, insn{code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, k: off})
}

func (a *asm) and(k uint32) {
	a.ins = append(a.ins, insn{code: unix.BPF_ALU | unix.BPF_AND | unix.BPF_K, k: k})
}

func (a *asm) ret(k uint32) {
	a.ins = append(a.ins, insn{code: unix.BPF_RET | unix.BPF_K, k: k})
}

// jmp emits "if A <cond> k goto jt else goto jf"; cond is BPF_JEQ, BPF_JGT,
// BPF_JGE or BPF_JSET. All comparisons are unsigned.
func (a *asm) jmp(cond uint16, k uint32, jt, jf label) {
	a.ins = append(a.ins, insn{code: unix.BPF_JMP | cond | unix.BPF_K, k: k, jt: jt, jf: jf})
}

func (a *asm) ja(l label) {
	a.ins = append(a.ins, insn{code: unix.BPF_JMP | unix.BPF_JA, jt: l})
}

func isCond(code uint16) bool {
	return code&0x07 == unix.BPF_JMP && code&0xf0 != unix.BPF_JA
}

func isJA(code uint16) bool { return code == unix.BPF_JMP|unix.BPF_JA }

// resolveNext turns every "next" target into a real label, so that
// inserting trampolines does not change its meaning.
func (a *asm) resolveNext() {
	var after []label // after[i]: label bound to instruction i+1
	get := func(i int) label {
		for len(after) <= i {
			after = append(after, next)
		}
		if after[i] == next {
			after[i] = a.label()
			a.pos[after[i]] = i + 1
		}
		return after[i]
	}
	for i := range a.ins {
		in := &a.ins[i]
		if isCond(in.code) || isJA(in.code) {
			if in.jt == next {
				in.jt = get(i)
			}
			if isCond(in.code) && in.jf == next {
				in.jf = get(i)
			}
		}
	}
}

// insertAfter inserts n "ja" instructions after instruction i and returns
// labels bound to them.
func (a *asm) insertAfter(i int, targets ...label) []label {
	n := len(targets)
	for l, p := range a.pos {
		if p > i {
			a.pos[l] = p + n
		}
	}
	a.ins = append(a.ins, make([]insn, n)...) // grows in place when it can
	copy(a.ins[i+1+n:], a.ins[i+1:])
	ls := make([]label, n)
	for j, t := range targets {
		a.ins[i+1+j] = insn{code: unix.BPF_JMP | unix.BPF_JA, jt: t}
		ls[j] = a.label()
		a.pos[ls[j]] = i + 1 + j
	}
	return ls
}

// fixLongJumps inserts trampolines until every conditional jump fits in 8
// bits. It returns whether it changed anything.
func (a *asm) fixLongJumps() bool {
	changed := false
	for i := 0; i < len(a.ins); i++ {
		in := a.ins[i]
		if !isCond(in.code) {
			continue
		}
		farT := a.pos[in.jt]-(i+1) > 255
		farF := a.pos[in.jf]-(i+1) > 255
		switch {
		case farT && farF:
			ls := a.insertAfter(i, in.jt, in.jf)
			a.ins[i].jt, a.ins[i].jf = ls[0], ls[1]
		case farT:
			a.ins[i].jt = a.insertAfter(i, in.jt)[0]
		case farF:
			a.ins[i].jf = a.insertAfter(i, in.jf)[0]
		default:
			continue
		}
		changed = true
	}
	return changed
}

// assemble resolves labels into the kernel's struct sock_filter array.
func (a *asm) assemble() ([]unix.SockFilter, error) {
	a.resolveNext()
	for a.fixLongJumps() {
	}
	out := make([]unix.SockFilter, len(a.ins))
	for i, in := range a.ins {
		f := unix.SockFilter{Code: in.code, K: in.k}
		switch {
		case isJA(in.code):
			off, err := a.offset(i, in.jt)
			if err != nil {
				return nil, err
			}
			f.K = uint32(off)
		case isCond(in.code):
			t, err := a.offset(i, in.jt)
			if err != nil {
				return nil, err
			}
			e, err := a.offset(i, in.jf)
			if err != nil {
				return nil, err
			}
			f.Jt, f.Jf = uint8(t), uint8(e)
		}
		out[i] = f
	}
	if len(out) > maxInsns {
		return nil, fmt.Errorf("%s: the filter needs %d BPF instructions, the kernel allows %d", field, len(out), maxInsns)
	}
	return out, nil
}

func (a *asm) offset(i int, l label) (int, error) {
	if l < 0 || int(l) >= len(a.pos) || a.pos[l] < 0 {
		return 0, fmt.Errorf("seccomp: internal error: instruction %d jumps to an unbound label", i)
	}
	off := a.pos[l] - (i + 1)
	if off < 0 || off >= len(a.ins)-i {
		return 0, fmt.Errorf("seccomp: internal error: instruction %d jumps out of range (%d)", i, off)
	}
	return off, nil
}

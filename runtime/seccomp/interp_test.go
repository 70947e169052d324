//go:build amd64

package seccomp

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/sys/unix"
)

// A classic-BPF interpreter for the instructions a seccomp filter may use,
// written from the kernel's rules (net/core/filter.c, seccomp_check_filter):
// forward jumps only, loads from struct seccomp_data, 32-bit A and X.
// It lets tests run the generated program over many inputs.

type seccompData struct {
	nr   uint32
	arch uint32
	ip   uint64
	args [6]uint64
}

func (d *seccompData) bytes() []byte {
	b := make([]byte, 64)
	binary.LittleEndian.PutUint32(b[0:], d.nr)
	binary.LittleEndian.PutUint32(b[4:], d.arch)
	binary.LittleEndian.PutUint64(b[8:], d.ip)
	for i, a := range d.args {
		binary.LittleEndian.PutUint64(b[16+8*i:], a)
	}
	return b
}

// run executes prog on d and returns the filter's return value and the
// number of instructions executed.
func run(prog []unix.SockFilter, d *seccompData) (uint32, int, error) {
	data := d.bytes()
	var A, X uint32
	var mem [16]uint32
	steps := 0
	for pc := 0; pc < len(prog); pc++ {
		steps++
		in := prog[pc]
		cls := in.Code & 0x07
		switch cls {
		case unix.BPF_LD:
			if in.Code != unix.BPF_LD|unix.BPF_W|unix.BPF_ABS {
				return 0, steps, fmt.Errorf("pc %d: unsupported load %#x", pc, in.Code)
			}
			if in.K%4 != 0 || in.K+4 > uint32(len(data)) {
				return 0, steps, fmt.Errorf("pc %d: load out of seccomp_data: %d", pc, in.K)
			}
			A = binary.LittleEndian.Uint32(data[in.K:])
		case unix.BPF_ST:
			mem[in.K&15] = A
		case unix.BPF_ALU:
			src := in.K
			if in.Code&0x08 == unix.BPF_X {
				src = X
			}
			switch in.Code & 0xf0 {
			case unix.BPF_AND:
				A &= src
			case unix.BPF_OR:
				A |= src
			case unix.BPF_ADD:
				A += src
			default:
				return 0, steps, fmt.Errorf("pc %d: unsupported alu %#x", pc, in.Code)
			}
		case unix.BPF_JMP:
			op := in.Code & 0xf0
			if op == unix.BPF_JA {
				if int(in.K) >= len(prog)-pc-1 {
					return 0, steps, fmt.Errorf("pc %d: ja out of program", pc)
				}
				pc += int(in.K)
				continue
			}
			var taken bool
			switch op {
			case unix.BPF_JEQ:
				taken = A == in.K
			case unix.BPF_JGT:
				taken = A > in.K
			case unix.BPF_JGE:
				taken = A >= in.K
			case unix.BPF_JSET:
				taken = A&in.K != 0
			default:
				return 0, steps, fmt.Errorf("pc %d: unsupported jump %#x", pc, in.Code)
			}
			off := int(in.Jf)
			if taken {
				off = int(in.Jt)
			}
			if off >= len(prog)-pc-1 {
				return 0, steps, fmt.Errorf("pc %d: jump out of program", pc)
			}
			pc += off
		case unix.BPF_RET:
			if in.Code != unix.BPF_RET|unix.BPF_K {
				return 0, steps, fmt.Errorf("pc %d: unsupported ret %#x", pc, in.Code)
			}
			return in.K, steps, nil
		case unix.BPF_MISC:
			X = A
		default:
			return 0, steps, fmt.Errorf("pc %d: unsupported class %#x", pc, in.Code)
		}
		_ = mem
	}
	return 0, steps, fmt.Errorf("fell off the end of the program")
}

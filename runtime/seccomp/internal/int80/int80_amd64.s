#include "textflag.h"

// func Syscall(nr, a1, a2 uintptr) int32
TEXT ·Syscall(SB),NOSPLIT,$0-28
	MOVQ nr+0(FP), AX
	MOVQ a1+8(FP), BX
	MOVQ a2+16(FP), CX
	INT $0x80
	MOVL AX, ret+24(FP)
	RET

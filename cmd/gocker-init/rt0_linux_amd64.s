//go:build !cgo

#include "textflag.h"

// _gocker_rt0 is pure-Go gocker-init's entry point (the Makefile links it
// with -E _gocker_rt0). When started as the init ("gocker init"), its
// first instructions make the process non-dumpable, before the Go runtime
// starts threads or runs any Go code, so nothing in the container can
// ptrace it or open its /proc/PID/{exe,mem,fd} (CVE-2016-9962,
// CVE-2019-5736): what the nsenter constructor does for the cgo build,
// under the same condition. Then the runtime's own entry point runs, with
// the stack the kernel set up untouched (at entry 0(SP) is argc, 8(SP)
// argv[0], 16(SP) argv[1]); _rt0_amd64_linux reads no register we change.
TEXT _gocker_rt0(SB),NOSPLIT|NOFRAME,$0
	MOVQ	0(SP), AX		// argc
	CMPQ	AX, $2
	JLT	runtime
	MOVQ	16(SP), BX		// argv[1]: "init\0"? The strings sit in the
	CMPL	0(BX), $0x74696e69	// stack's argument area, so reading 5
	JNE	runtime			// bytes of a shorter one stays inside it.
	CMPB	4(BX), $0
	JNE	runtime
	MOVQ	$157, AX		// SYS_prctl
	MOVQ	$4, DI			// PR_SET_DUMPABLE
	XORQ	SI, SI			// SUID_DUMP_DISABLE
	XORQ	DX, DX
	XORQ	R10, R10
	XORQ	R8, R8
	SYSCALL
runtime:
	JMP	_rt0_amd64_linux(SB)

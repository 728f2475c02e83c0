#include "textflag.h"

// func vforkExit() (pid int, errno unix.Errno)
//
// The child shares the parent's memory and stack and must touch neither: it makes one system
// call and is gone. The parent sleeps in clone until then (CLONE_VFORK).
TEXT ·vforkExit(SB),NOSPLIT,$0-16
	MOVQ	$56, AX		// SYS_clone
	MOVQ	$0x4111, DI	// CLONE_VM|CLONE_VFORK|SIGCHLD
	XORQ	SI, SI		// no new stack: the child does not use one
	XORQ	DX, DX
	XORQ	R10, R10
	XORQ	R8, R8
	SYSCALL
	CMPQ	AX, $0
	JNE	parent
	MOVQ	$231, AX	// the child: SYS_exit_group
	XORQ	DI, DI
	SYSCALL
parent:
	CMPQ	AX, $0xfffffffffffff001
	JLS	ok
	MOVQ	$-1, pid+0(FP)
	NEGQ	AX
	MOVQ	AX, errno+8(FP)
	RET
ok:
	MOVQ	AX, pid+0(FP)
	MOVQ	$0, errno+8(FP)
	RET

package int80

import (
	"os"
	"testing"
)

func TestSyscall(t *testing.T) {
	// i386 getpid is 20, getppid 64.
	if got := Syscall(20, 0, 0); int(got) != os.Getpid() {
		t.Skipf("int $0x80 getpid = %d, want %d: no IA32 emulation on this kernel?", got, os.Getpid())
	}
	if got := Syscall(64, 0, 0); int(got) != os.Getppid() {
		t.Fatalf("int $0x80 getppid = %d, want %d", got, os.Getppid())
	}
}

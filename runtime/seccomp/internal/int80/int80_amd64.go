// Package int80 makes i386-ABI system calls from a 64-bit process through
// the int $0x80 gate. The kernel then reports AUDIT_ARCH_I386 to seccomp
// and uses the i386 syscall table, which is how 32-bit code reaches a
// container on an x86_64 host. Tests use it to check the filter's
// architecture handling on a real kernel.
package int80

// Syscall makes i386 syscall nr with two arguments and returns the raw
// result (negative errno on failure, as the kernel returns it).
func Syscall(nr, a1, a2 uintptr) int32

package seccomp

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Install loads the filter with seccomp(2) SECCOMP_SET_MODE_FILTER on the
// calling thread, or on all threads of the process when the profile has
// SECCOMP_FILTER_FLAG_TSYNC. The caller must have set no_new_privs or hold
// CAP_SYS_ADMIN (seccomp(2)), and must stay on this OS thread
// (runtime.LockOSThread) until execve, since a filter belongs to a thread.
//
// Every syscall the caller makes after Install goes through the filter,
// including the execve of the user process (the profile must allow it) and,
// with SCMP_ACT_NOTIFY, whatever the caller does to pass the listener fd on.
//
// When the filter has SCMP_ACT_NOTIFY rules, Install asks for a listener
// (SECCOMP_FILTER_FLAG_NEW_LISTENER) and returns its fd (close-on-exec);
// otherwise it returns -1. A nil *Filter installs nothing and returns -1.
func (f *Filter) Install() (notifyFd int, err error) {
	if f == nil {
		return -1, nil
	}
	prog := unix.SockFprog{Len: uint16(len(f.prog)), Filter: &f.prog[0]}
	r, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, f.flags, uintptr(unsafe.Pointer(&prog)))
	runtime.KeepAlive(f)
	if errno != 0 {
		return -1, f.explain(errno)
	}
	if f.notify {
		return int(r), nil
	}
	if r != 0 {
		// With TSYNC the kernel returns the id of a thread it could not
		// synchronize (another filter or mode there).
		return -1, fmt.Errorf("seccomp: TSYNC: thread %d cannot take the filter", r)
	}
	return -1, nil
}

var flagNames = []struct {
	bit  uintptr
	name string
}{
	{unix.SECCOMP_FILTER_FLAG_TSYNC, "SECCOMP_FILTER_FLAG_TSYNC"},
	{unix.SECCOMP_FILTER_FLAG_LOG, "SECCOMP_FILTER_FLAG_LOG"},
	{unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW, "SECCOMP_FILTER_FLAG_SPEC_ALLOW"},
	{unix.SECCOMP_FILTER_FLAG_NEW_LISTENER, "SECCOMP_FILTER_FLAG_NEW_LISTENER (needed by SCMP_ACT_NOTIFY)"},
	{unix.SECCOMP_FILTER_FLAG_TSYNC_ESRCH, "SECCOMP_FILTER_FLAG_TSYNC_ESRCH (needed by TSYNC with SCMP_ACT_NOTIFY)"},
	{unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"},
}

// explain turns a seccomp(2) failure into a message that says what to fix.
func (f *Filter) explain(errno unix.Errno) error {
	switch errno {
	case unix.EACCES:
		return fmt.Errorf("seccomp: loading the filter needs no_new_privs or CAP_SYS_ADMIN: %w", errno)
	case unix.EINVAL:
		if bad := unsupportedFlags(f.flags); len(bad) > 0 {
			return fmt.Errorf("seccomp: the kernel does not support %s: %w", strings.Join(bad, ", "), errno)
		}
		return fmt.Errorf("seccomp: the kernel rejected the filter (%d instructions, flags %#x): %w", len(f.prog), f.flags, errno)
	case unix.ENOMEM:
		return fmt.Errorf("seccomp: the filter does not fit with the filters already installed "+
			"(the kernel allows 32768 instructions in total): %w", errno)
	}
	return fmt.Errorf("seccomp: loading the filter: %w", errno)
}

// unsupportedFlags probes each flag alone: seccomp(2) checks the flags
// before it reads the program, so a NULL program gives EFAULT for a known
// flag and EINVAL for an unknown one (libseccomp probes the same way).
// Nothing is installed.
func unsupportedFlags(flags uintptr) []string {
	var bad []string
	for _, fl := range flagNames {
		if flags&fl.bit == 0 {
			continue
		}
		probe := fl.bit
		if fl.bit == unix.SECCOMP_FILTER_FLAG_TSYNC_ESRCH || fl.bit == unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV {
			probe |= unix.SECCOMP_FILTER_FLAG_NEW_LISTENER // only valid with it
		}
		_, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, probe, 0)
		if errors.Is(errno, unix.EINVAL) {
			bad = append(bad, fl.name)
		}
	}
	return bad
}

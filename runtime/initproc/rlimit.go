package initproc

import (
	"fmt"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

var rlimitTypes = map[string]int{
	"RLIMIT_AS": unix.RLIMIT_AS, "RLIMIT_CORE": unix.RLIMIT_CORE, "RLIMIT_CPU": unix.RLIMIT_CPU,
	"RLIMIT_DATA": unix.RLIMIT_DATA, "RLIMIT_FSIZE": unix.RLIMIT_FSIZE, "RLIMIT_LOCKS": unix.RLIMIT_LOCKS,
	"RLIMIT_MEMLOCK": unix.RLIMIT_MEMLOCK, "RLIMIT_MSGQUEUE": unix.RLIMIT_MSGQUEUE, "RLIMIT_NICE": unix.RLIMIT_NICE,
	"RLIMIT_NOFILE": unix.RLIMIT_NOFILE, "RLIMIT_NPROC": unix.RLIMIT_NPROC, "RLIMIT_RSS": unix.RLIMIT_RSS,
	"RLIMIT_RTPRIO": unix.RLIMIT_RTPRIO, "RLIMIT_RTTIME": unix.RLIMIT_RTTIME, "RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING,
	"RLIMIT_STACK": unix.RLIMIT_STACK,
}

// setRlimits applies process.rlimits. prlimit(2) on pid 0 is this process;
// raising a hard limit needs CAP_SYS_RESOURCE, and the error says so.
func setRlimits(rls []specs.POSIXRlimit) error {
	for _, rl := range rls {
		res, ok := rlimitTypes[rl.Type]
		if !ok {
			return fmt.Errorf("process.rlimits: unknown type %q", rl.Type)
		}
		lim := unix.Rlimit{Cur: rl.Soft, Max: rl.Hard}
		if err := unix.Prlimit(0, res, &lim, nil); err != nil {
			if err == unix.EPERM {
				var cur unix.Rlimit
				unix.Prlimit(0, res, nil, &cur)
				return fmt.Errorf("process.rlimits %s: hard limit %d is above the current %d and raising it needs CAP_SYS_RESOURCE: %w", rl.Type, rl.Hard, cur.Max, err)
			}
			return fmt.Errorf("process.rlimits %s (soft %d, hard %d): %w", rl.Type, rl.Soft, rl.Hard, err)
		}
	}
	return nil
}

func uintptrOf(list []uint32) uintptr { return uintptr(unsafe.Pointer(&list[0])) }

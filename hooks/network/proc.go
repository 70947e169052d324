package network

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// procStat returns the state letter and start time (field 3 and field 22 of
// /proc/<pid>/stat, proc(5)). The comm field may hold spaces and parens, so
// fields are counted from the last ')'.
func procStat(pid int) (state byte, start uint64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("/proc/%d/stat: malformed", pid)
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state), so field 22 is f[19].
	if len(f) < 20 {
		return 0, 0, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	start, err = strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("/proc/%d/stat: start time: %w", pid, err)
	}
	return f[0][0], start, nil
}

// leaseAlive reports whether the container that took l still exists: its
// init pid is alive, not a zombie, and has the start time recorded at
// setup (so a recycled pid does not keep a dead container's lease).
func leaseAlive(l *Lease) bool {
	if l.Pid <= 0 {
		return false
	}
	state, start, err := procStat(l.Pid)
	return err == nil && state != 'Z' && start == l.StartTime
}

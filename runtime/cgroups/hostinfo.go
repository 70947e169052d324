package cgroups

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/opencontainers/cgroups"
)

// Host facts read from sysfs. They are read on every call (they are tiny
// files) because CPUs can be hot-plugged.
var (
	cpuOnlineFile  = "/sys/devices/system/cpu/online"
	nodeOnlineFile = "/sys/devices/system/node/online"
)

func hostCPUs() (string, error) { return readList(cpuOnlineFile, "") }

// hostMems falls back to "0": without CONFIG_NUMA there is no node directory
// but the kernel still has memory node 0 (cpuset.mems reads "0").
func hostMems() (string, error) { return readList(nodeOnlineFile, "0") }

func readList(file, fallback string) (string, error) {
	b, err := os.ReadFile(file)
	if os.IsNotExist(err) && fallback != "" {
		return fallback, nil
	}
	if err != nil {
		return "", fmt.Errorf("read host list: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// parseList parses the kernel's list format ("0-3,5,7-8", see
// Documentation/admin-guide/cgroup-v1/cpusets.rst) into a set.
func parseList(s string) (map[int]bool, error) {
	set := map[int]bool{}
	for part := range strings.SplitSeq(strings.TrimSpace(s), ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		from, err := strconv.Atoi(lo)
		if err != nil || from < 0 {
			return nil, fmt.Errorf("%q is not a number", part)
		}
		to := from
		if isRange {
			if to, err = strconv.Atoi(hi); err != nil || to < from {
				return nil, fmt.Errorf("%q is not a valid range", part)
			}
		}
		// A cap keeps "0-4000000000" from allocating a huge map; no
		// machine has more CPUs or nodes than this (NR_CPUS max 8192).
		if to >= 1<<16 {
			return nil, fmt.Errorf("%q is out of range", part)
		}
		for i := from; i <= to; i++ {
			set[i] = true
		}
	}
	return set, nil
}

// checkCPUList rejects a cpuset.cpus/cpuset.mems value that is malformed or
// names a CPU (or node) the host does not have, which the kernel would
// refuse with a bare EINVAL at Apply time.
func checkCPUList(field, value, what string, host func() (string, error)) error {
	want, err := parseList(value)
	if err != nil {
		return fieldErr(field, "%q is not a valid list: %v", value, err)
	}
	hostList, err := host()
	if err != nil {
		return &FieldError{Field: field, Msg: "cannot check against the host", Err: err}
	}
	have, err := parseList(hostList)
	if err != nil {
		return &FieldError{Field: field, Msg: "cannot parse the host's list " + hostList, Err: err}
	}
	for _, n := range slices.Sorted(maps.Keys(want)) {
		if !have[n] {
			return fieldErr(field, "%s %d does not exist (host has %s)", what, n, hostList)
		}
	}
	return nil
}

// memswAvailable reports whether v1 swap accounting is on (the memsw files
// exist only with CONFIG_MEMCG_SWAP and swapaccount=1).
func memswAvailable() bool {
	mnt, err := cgroups.FindCgroupMountpoint("", "memory")
	if err != nil {
		return false
	}
	_, err = os.Stat(filepath.Join(mnt, "memory.memsw.limit_in_bytes"))
	return err == nil
}

package runtime

import (
	"fmt"
	"os"
	"slices"
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	gspec "github.com/gocker/gocker/spec"
)

// ownPidNS reports whether the container has a pid namespace of its own
// (a new one, not joined by path).
func ownPidNS(s *specs.Spec) bool {
	return gspec.HasNamespace(s, specs.PIDNamespace) && gspec.NamespacePath(s, specs.PIDNamespace) == ""
}

// pidNSMembers lists the host pids of the processes in init's pid
// namespace, for `ps` of a container without a cgroup of its own. A
// process we may not inspect (another user's) cannot be in the
// namespace of a container we own, so it is skipped.
func pidNSMembers(init int) ([]int, error) {
	want, err := os.Readlink("/proc/" + strconv.Itoa(init) + "/ns/pid")
	if err != nil {
		return nil, fmt.Errorf("pid namespace of the container's init %d: %w", init, err)
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	pids := []int{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ns, err := os.Readlink("/proc/" + e.Name() + "/ns/pid"); err == nil && ns == want {
			pids = append(pids, pid)
		}
	}
	slices.Sort(pids)
	return pids, nil
}

package runtime

import (
	"fmt"
	"os"

	"github.com/gocker/gocker/runtime/cgroups"
)

// initCgroupJoin says how the init of a new container enters its cgroup:
// by itself, cloned into the unified hierarchy (v2, or a hybrid host's
// cgroup2 mount) and writing its exec thread into each v1 hierarchy's
// tasks file, which never waits for the RCU grace period of a
// cgroup.procs write (runtime/cgroups: BeginCreate, OpenTasks); or, with
// parent set, moved by us after the fork (the systemd driver, no cgroup,
// no CLONE_INTO_CGROUP).
type initCgroupJoin struct {
	unified *os.File
	tasks   []*os.File
	parent  bool
	// paths are the cgroup's directories, taken before they are made.
	paths map[string]string
}

// beginCgroup starts making the container's cgroup; finish waits for it
// and opens the tasks files.
func (cr *creation) beginCgroup() (j *initCgroupJoin, finish func() error, err error) {
	paths := cr.cg.Paths()
	unified, done, err := cr.cg.BeginCreate()
	if err != nil {
		return nil, nil, cr.cgroupError(err)
	}
	j = &initCgroupJoin{unified: unified, paths: paths}
	finish = func() error {
		if err := done(); err != nil {
			return cr.cgroupError(err)
		}
		// A hybrid host whose unified directory could not be opened.
		if !cr.cg.SelfJoin() || (cr.cg.HasUnified() && j.unified == nil) {
			j.parent = true
			return nil
		}
		j.tasks, err = cr.cg.OpenTasks(nil)
		return err
	}
	return j, finish, nil
}

func (cr *creation) cgroupError(err error) error {
	return fmt.Errorf("create cgroup: %w", rootlessCgroupError(cr.o, cr.c.Spec, err))
}

// tasksFds are the fds of the tasks files, for the bootstrap message.
func (j *initCgroupJoin) tasksFds() []int {
	var fds []int
	for _, f := range j.tasks {
		fds = append(fds, int(f.Fd()))
	}
	return fds
}

// sentFds are the fds the child gets: the tasks files unless we move it.
func (j *initCgroupJoin) sentFds() []int {
	if j.parent {
		return nil
	}
	return j.tasksFds()
}

// execCgroupJoin is initCgroupJoin for an exec process, into the existing
// cgroup or its sub-cgroups (exec --cgroup). A container that joined a
// shared cgroup leaves its processes where they are, as at create.
func (c *Container) execCgroupJoin(sub map[string]string) (*initCgroupJoin, error) {
	cg := c.cgroup()
	j := &initCgroupJoin{}
	if cg == nil || c.State.CgroupShared {
		return j, nil
	}
	var err error
	if j.unified, err = cg.OpenDir(sub); err != nil {
		return nil, err
	}
	switch {
	case cgroups.IsV2(): // the clone places it
	case !cg.SelfJoin():
		j.parent = true
	default:
		if j.tasks, err = cg.OpenTasks(sub); err != nil {
			j.Close()
			return nil, err
		}
	}
	return j, nil
}

// Close closes the files once the init has its copies.
func (j *initCgroupJoin) Close() {
	if j.unified != nil {
		j.unified.Close()
	}
	for _, f := range j.tasks {
		f.Close()
	}
}

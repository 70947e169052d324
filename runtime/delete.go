package runtime

import (
	"fmt"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/gocker/gocker/hooks"
)

// Delete runs the OCI delete operation. A created container is deleted
// too, killing its waiting init: runtime-spec says delete of a non-stopped
// container must fail, but containerd's shim deletes created tasks without
// --force, as runc allows (see README, differences from runc).
func Delete(o Options, id string, force bool) error {
	c, err := LoadBrief(o, id)
	if err != nil {
		return err
	}
	return c.delete(force)
}

// delete is Delete on a loaded container; `run` uses it on the container it
// created, without loading it again.
func (c *Container) delete(force bool) error {
	id := c.ID
	lock, err := c.Store.Lock(id)
	if err != nil {
		return err
	}
	defer lock.Release()
	switch st := c.Status(); st {
	case specs.StateStopped:
	case specs.StateCreated:
		if err := c.stopInit(); err != nil {
			return err
		}
	case specs.StateCreating:
		if !force {
			return fmt.Errorf("cannot delete container %s that is being created", id)
		}
	default:
		if !force {
			return fmt.Errorf("cannot delete container %s that is not stopped: %s", id, st)
		}
		if err := c.stopInit(); err != nil {
			return err
		}
	}
	return c.destroy()
}

// stopInit kills the init and everything in its cgroup, thawing a paused
// container so the SIGKILL is delivered.
func (c *Container) stopInit() error {
	if m := c.cgroup(); m != nil && m.Exists() && !c.State.CgroupShared {
		if err := m.KillAll(); err != nil {
			return fmt.Errorf("kill container processes: %w", err)
		}
	} else if err := c.signalInit(unix.SIGKILL); err != nil && err != ErrNotRunning {
		return err
	}
	return c.waitInitGone(10 * time.Second)
}

// destroy removes what the container holds on the host: the cgroup, then
// the state dir; then the poststop hooks run (failures are warnings, as
// runtime-spec says).
func (c *Container) destroy() error {
	if m := c.cgroup(); m != nil && !c.State.CgroupShared {
		// Processes outside the init's pid namespace may survive the init.
		if m.Exists() {
			if err := m.KillAll(); err != nil {
				return fmt.Errorf("kill container processes: %w", err)
			}
		}
		if err := m.Destroy(); err != nil {
			return fmt.Errorf("remove cgroup: %w", err)
		}
	}
	st := c.specState(specs.StateStopped)
	if err := c.Store.Remove(c.ID); err != nil {
		return err
	}
	if c.Spec != nil {
		if err := hooks.RunAll(c.Spec.Hooks, hooks.Poststop, st); err != nil {
			logrus.Warn(err)
		}
	}
	return nil
}

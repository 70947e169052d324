package cgroups

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/opencontainers/cgroups"
	"golang.org/x/sys/unix"
)

// Freeze stops every process of the cgroup (`gocker pause`).
func (m *Manager) Freeze() error {
	if err := m.mgr.Freeze(cgroups.Frozen); err != nil {
		return fmt.Errorf("freeze cgroup %s: %w", m.name(), err)
	}
	return nil
}

// Thaw resumes a frozen cgroup (`gocker resume`).
func (m *Manager) Thaw() error {
	if err := m.mgr.Freeze(cgroups.Thawed); err != nil {
		return fmt.Errorf("thaw cgroup %s: %w", m.name(), err)
	}
	return nil
}

// Frozen reports whether the cgroup itself is frozen, which is how the
// runtime derives the "paused" status. A frozen parent does not count: v1
// freezer.self_freezing and v2 cgroup.freeze describe this cgroup only.
func (m *Manager) Frozen() (bool, error) {
	st, err := m.mgr.GetFreezerState()
	if err != nil {
		return false, fmt.Errorf("freezer state of %s: %w", m.name(), err)
	}
	return st == cgroups.Frozen, nil
}

// Pids lists every process in the cgroup and its child cgroups. A cgroup
// that does not exist has none.
func (m *Manager) Pids() ([]int, error) {
	if !m.Exists() {
		return nil, nil
	}
	pids, err := m.mgr.GetAllPids()
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("list processes of %s: %w", m.name(), err)
	}
	return pids, nil
}

// KillAll SIGKILLs every process in the cgroup and waits (bounded) until
// it is empty. v2's cgroup.kill (kernel 5.14) does it atomically; otherwise
// the cgroup is frozen first so nothing can fork between listing and
// killing, then thawed so the signals are delivered.
func (m *Manager) KillAll() error {
	if m.shared {
		return ErrShared
	}
	if !m.Exists() {
		return nil
	}
	// The common case at delete: the init is gone and took its pid
	// namespace with it. Freezing an empty cgroup would only cost time.
	if pids, err := m.Pids(); err == nil && len(pids) == 0 {
		return nil
	}
	if m.v2 && m.cgroupKill() {
		return m.waitEmpty()
	}
	deadline := time.Now().Add(killTimeout)
	for {
		if err := m.killFrozen(); err != nil {
			return err
		}
		empty, err := m.pollEmpty(min(time.Until(deadline), 500*time.Millisecond))
		if err != nil || empty {
			return err
		}
		if time.Now().After(deadline) {
			return m.notEmpty()
		}
	}
}

// cgroupKill writes cgroup.kill; false means the kernel lacks it.
func (m *Manager) cgroupKill() bool {
	return cgroups.WriteFile(m.mgr.Path(""), "cgroup.kill", "1") == nil
}

func (m *Manager) killFrozen() error {
	// Freezing a cgroup we are in would stop us too.
	if pids, _ := m.Pids(); slices.Contains(pids, os.Getpid()) {
		return fmt.Errorf("kill all in %s: refusing, the calling process is in that cgroup", m.name())
	}
	// Without a freezer (v2 before 5.2) the kill still goes ahead; a
	// process forked meanwhile is caught by the next round.
	frozen := m.mgr.Freeze(cgroups.Frozen) == nil
	pids, err := m.Pids()
	if err == nil {
		for _, pid := range pids {
			if kerr := unix.Kill(pid, unix.SIGKILL); kerr != nil && kerr != unix.ESRCH {
				err = fmt.Errorf("kill %d: %w", pid, kerr)
			}
		}
	}
	if frozen {
		if terr := m.mgr.Freeze(cgroups.Thawed); terr != nil && err == nil {
			err = terr
		}
	}
	if err != nil {
		return fmt.Errorf("kill all in %s: %w", m.name(), err)
	}
	return nil
}

func (m *Manager) waitEmpty() error {
	empty, err := m.pollEmpty(killTimeout)
	if err != nil || empty {
		return err
	}
	return m.notEmpty()
}

func (m *Manager) notEmpty() error {
	pids, _ := m.Pids()
	return fmt.Errorf("kill all in %s: processes %v still running after %v", m.name(), pids, killTimeout)
}

// pollEmpty waits up to d for the cgroup to have no processes. Exited
// processes leave the cgroup in do_exit, before their parent reaps them,
// so zombies do not keep it busy.
func (m *Manager) pollEmpty(d time.Duration) (bool, error) {
	deadline := time.Now().Add(d)
	for {
		pids, err := m.Pids()
		if err != nil {
			return false, err
		}
		if len(pids) == 0 {
			return true, nil
		}
		if time.Now().After(deadline) {
			return false, nil
		}
		time.Sleep(pollInterval)
	}
}

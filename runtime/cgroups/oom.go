package cgroups

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/cgroups/fscommon"
	"golang.org/x/sys/unix"
)

// OOMEvents sends a value each time the kernel's OOM killer acts in the
// cgroup. The channel is closed when ctx is done or the cgroup goes away.
//
// v1 uses the memory.oom_control eventfd notification
// (Documentation/admin-guide/cgroup-v1/memory.rst, "OOM Control"); v2 has
// no such notification, so it watches memory.events with inotify (the file
// is documented to generate modify events) and reports rises of its
// oom_kill count.
func (m *Manager) OOMEvents(ctx context.Context) (<-chan struct{}, error) {
	if m.v2 {
		return m.oomV2(ctx)
	}
	return m.oomV1(ctx)
}

func (m *Manager) oomV1(ctx context.Context) (<-chan struct{}, error) {
	dir := m.mgr.Path("memory")
	if dir == "" {
		return nil, fmt.Errorf("oom events of %s: no memory cgroup", m.name())
	}
	ctl, err := os.Open(filepath.Join(dir, "memory.oom_control"))
	if err != nil {
		return nil, fmt.Errorf("oom events of %s: %w", m.name(), err)
	}
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		ctl.Close()
		return nil, fmt.Errorf("oom events: eventfd: %w", err)
	}
	// Non-blocking, so the os.File uses the poller and Close from the
	// context callback wakes a pending Read.
	ev := os.NewFile(uintptr(efd), "oom-eventfd")
	reg := fmt.Sprintf("%d %d", efd, ctl.Fd())
	if err := cgroups.WriteFile(dir, "cgroup.event_control", reg); err != nil {
		ev.Close()
		ctl.Close()
		return nil, fmt.Errorf("oom events of %s: %w", m.name(), err)
	}
	ch := make(chan struct{})
	go func() {
		defer close(ch)
		defer ctl.Close()
		defer ev.Close()
		defer context.AfterFunc(ctx, func() { ev.Close() })()
		buf := make([]byte, 8)
		for {
			if _, err := ev.Read(buf); err != nil {
				return
			}
			// The eventfd is also signalled when the cgroup is
			// removed (memcg_event_remove); that is not an OOM.
			if _, err := os.Stat(filepath.Join(dir, "cgroup.event_control")); err != nil {
				return
			}
			if !send(ctx, ch) {
				return
			}
		}
	}()
	return ch, nil
}

func (m *Manager) oomV2(ctx context.Context) (<-chan struct{}, error) {
	dir := m.mgr.Path("")
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("oom events: inotify: %w", err)
	}
	in := os.NewFile(uintptr(fd), "oom-inotify")
	for _, f := range []string{"memory.events", "cgroup.events"} {
		if _, err := unix.InotifyAddWatch(fd, filepath.Join(dir, f), unix.IN_MODIFY); err != nil {
			in.Close()
			return nil, fmt.Errorf("oom events of %s: watch %s: %w", m.name(), f, err)
		}
	}
	last, err := oomKillCount(dir)
	if err != nil {
		in.Close()
		return nil, fmt.Errorf("oom events of %s: %w", m.name(), err)
	}
	ch := make(chan struct{})
	go func() {
		defer close(ch)
		defer in.Close()
		defer context.AfterFunc(ctx, func() { in.Close() })()
		buf := make([]byte, 4096)
		for {
			if _, err := in.Read(buf); err != nil {
				return
			}
			n, err := oomKillCount(dir)
			if err != nil {
				return // cgroup removed
			}
			for ; last < n; last++ {
				if !send(ctx, ch) {
					return
				}
			}
			if !populated(dir) {
				return
			}
		}
	}()
	return ch, nil
}

func oomKillCount(dir string) (uint64, error) {
	return fscommon.GetValueByKey(dir, "memory.events", "oom_kill")
}

// populated reads cgroup.events; an emptied cgroup will see no more OOMs.
func populated(dir string) bool {
	data, err := cgroups.ReadFile(dir, "cgroup.events")
	return err == nil && !strings.Contains(data, "populated 0")
}

func send(ctx context.Context, ch chan<- struct{}) bool {
	select {
	case ch <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

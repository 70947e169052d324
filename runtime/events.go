package runtime

import (
	"context"
	"errors"
	"fmt"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"

	"github.com/gocker/gocker/runtime/cgroups"
)

// Event is one line of `gocker events`, in the shape of runc's
// types.Event that containerd's go-runc decodes: "stats" events carry a
// *cgroups.Stats in Data, "oom" events none.
type Event struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Data any    `json:"data,omitempty"`
}

// EventOptions select what Events reports.
type EventOptions struct {
	// StatsOnce reports one stats event and returns (`events --stats`).
	StatsOnce bool
	// Interval between stats events; the first comes after one interval,
	// as in runc.
	Interval time.Duration
}

// oomGrace is how long Events keeps listening for an OOM notification
// after the container stopped: when the OOM killer kills the init, the
// eventfd fires before the exit, but our reader may not have run yet.
const oomGrace = 200 * time.Millisecond

// Events reports the container's stats and OOM kills through emit until
// the container stops (then it returns nil) or ctx is done.
func Events(ctx context.Context, o Options, id string, eo EventOptions, emit func(*Event) error) error {
	c, err := Load(o, id)
	if err != nil {
		return err
	}
	if st := c.Status(); st == specs.StateStopped || st == specs.StateCreating {
		return fmt.Errorf("container %s: %w", id, ErrNotRunning)
	}
	m := c.cgroup()
	if m == nil {
		return c.noCgroup("events")
	}
	if eo.StatsOnce {
		s, err := m.Stats()
		if err != nil {
			return err
		}
		return emit(&Event{Type: "stats", ID: id, Data: s})
	}
	if eo.Interval <= 0 {
		return errors.New("events: the interval must be greater than 0")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	oom, err := m.OOMEvents(ctx)
	if err != nil {
		// No memory controller: stats still work.
		logrus.Warnf("events: no OOM notifications: %v", err)
	}
	return c.eventLoop(ctx, m, oom, eo.Interval, emit)
}

func (c *Container) eventLoop(ctx context.Context, m *cgroups.Manager, oom <-chan struct{},
	interval time.Duration, emit func(*Event) error) error {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case _, ok := <-oom:
			if !ok {
				oom = nil // cgroup gone; the next tick sees the stop
				continue
			}
			if err := emit(&Event{Type: "oom", ID: c.ID}); err != nil {
				return err
			}
		case <-tick.C:
			if c.Status() == specs.StateStopped {
				return c.drainOOM(oom, emit)
			}
			s, err := m.Stats()
			if err != nil {
				// The container may have stopped between the two reads.
				logrus.Warnf("events: %v", err)
				continue
			}
			if err := emit(&Event{Type: "stats", ID: c.ID, Data: s}); err != nil {
				return err
			}
		}
	}
}

// drainOOM reports OOM kills that raced with the container's exit.
func (c *Container) drainOOM(oom <-chan struct{}, emit func(*Event) error) error {
	if oom == nil {
		return nil
	}
	timeout := time.After(oomGrace)
	for {
		select {
		case _, ok := <-oom:
			if !ok {
				return nil
			}
			if err := emit(&Event{Type: "oom", ID: c.ID}); err != nil {
				return err
			}
		case <-timeout:
			return nil
		}
	}
}

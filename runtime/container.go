// Package runtime is the container object and its OCI lifecycle:
// create, start, state, kill, delete.
package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/gocker/gocker/runtime/cgroups"
	"github.com/gocker/gocker/runtime/state"
	gspec "github.com/gocker/gocker/spec"
)

// Status values beyond the spec's four, as runc reports them.
const StatusPaused specs.ContainerState = "paused"

// Container is one container in a runtime root.
type Container struct {
	ID    string
	Store state.Store
	State *state.State
	Spec  *specs.Spec // the config snapshot taken at create

	cg *cgroups.Manager // built on first use: New reads the host's mounts
}

// Options are the global flags every verb shares.
type Options struct {
	Root          string
	SystemdCgroup bool
	Rootless      bool
}

func (o Options) store() state.Store { return state.Store{Root: o.Root} }

// Load opens an existing container.
func Load(o Options, id string) (*Container, error) { return load(o, id, false) }

// LoadBrief opens a container for the verbs that need of its spec only
// the cgroup path (the status: the freezer tells paused; kill, delete),
// the hooks (start, delete) and whether there is a process (start): a
// token scan of the config snapshot reads those (decodeBrief) instead of
// a decode of the whole spec, for which encoding/json builds its codecs
// by reflection in every new process, about 0.7 ms here, on each state,
// kill, start and delete that containerd's shim runs. c.Spec then holds
// linux.namespaces, the id mappings, linux.cgroupsPath, the hooks, and an
// empty Process if there is one.
func LoadBrief(o Options, id string) (*Container, error) { return load(o, id, true) }

func load(o Options, id string, brief bool) (*Container, error) {
	if err := gspec.ValidateID(id); err != nil {
		return nil, err
	}
	st := o.store()
	s, err := st.Load(id)
	if err != nil {
		if !errors.Is(err, state.ErrNotExist) {
			return nil, err
		}
		if _, serr := os.Stat(st.Dir(id)); serr != nil {
			return nil, err
		}
		// The directory exists without state.json: a create in progress
		// (its lock is held), or one that died half-way.
		s = &state.State{ID: id}
	}
	c := &Container{ID: id, Store: st, State: s}
	data, err := os.ReadFile(st.Path(id, state.ConfigFile))
	if err != nil {
		return c, nil
	}
	if brief {
		if bc, ok := decodeBrief(data); ok {
			c.Spec = bc.spec()
			return c, nil
		}
	}
	var sp specs.Spec
	if err := json.Unmarshal(data, &sp); err == nil {
		c.Spec = &sp
	}
	return c, nil
}

// List loads every container in the root, for their status (LoadBrief).
func List(o Options) ([]*Container, error) {
	ids, err := o.store().List()
	if err != nil {
		return nil, err
	}
	var out []*Container
	for _, id := range ids {
		if c, err := LoadBrief(o, id); err == nil {
			out = append(out, c)
		}
	}
	return out, nil
}

// Status derives the container's status from the stored facts; it is never
// read from disk.
func (c *Container) Status() specs.ContainerState {
	if c.State.InitPid == 0 {
		if c.Store.Busy(c.ID) {
			return specs.StateCreating
		}
		return specs.StateStopped
	}
	if !c.initAlive() {
		return specs.StateStopped
	}
	if m := c.cgroup(); m != nil {
		if frozen, err := m.Frozen(); err == nil && frozen {
			return StatusPaused
		}
	}
	if _, err := os.Lstat(c.Store.Path(c.ID, state.FifoFile)); err == nil {
		return specs.StateCreated
	}
	return specs.StateRunning
}

// initAlive checks that the stored pid is still our init: same start time
// (so a recycled pid is not mistaken for it) and not a zombie.
func (c *Container) initAlive() bool {
	start, stateCh, err := procStat(c.State.InitPid)
	if err != nil {
		return false
	}
	return start == c.State.InitStart && stateCh != 'Z' && stateCh != 'X'
}

// procStat reads the start time (field 22) and state (field 3) of pid.
func procStat(pid int) (uint64, byte, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, err
	}
	// comm (field 2) may hold spaces and parens: fields start after the
	// last ')'.
	i := strings.LastIndexByte(string(data), ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 20 {
		return 0, 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	start, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return 0, 0, err
	}
	return start, f[0][0], nil
}

// cgroup returns the container's cgroup manager, or nil without a config.
func (c *Container) cgroup() *cgroups.Manager {
	if c.cg != nil || c.Spec == nil {
		return c.cg
	}
	m, err := newCgroup(c.ID, c.Spec, cgroups.Options{Shared: c.State.CgroupShared})
	if err != nil {
		return nil
	}
	if c.State.CgroupShared && !m.Exists() {
		// A rootless container running in its caller's cgroup, which is
		// not its to freeze, list or kill through (rootless.go).
		return nil
	}
	c.cg = m
	return m
}

func newCgroup(id string, s *specs.Spec, o cgroups.Options) (*cgroups.Manager, error) {
	var path string
	var res *specs.LinuxResources
	if s.Linux != nil {
		path, res = s.Linux.CgroupsPath, s.Linux.Resources
	}
	return cgroups.New(id, path, res, o)
}

// StateJSON is what `state` prints: the OCI state plus runc's extra fields.
type StateJSON struct {
	OCIVersion  string            `json:"ociVersion"`
	ID          string            `json:"id"`
	Pid         int               `json:"pid"`
	Status      string            `json:"status"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Created     time.Time         `json:"created"`
	Owner       string            `json:"owner"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// OCIState reports the state as `gocker state` prints it. The pid is 0
// once the container has stopped, as in runc.
func (c *Container) OCIState() *StateJSON {
	status := c.Status()
	pid := c.State.InitPid
	if status == specs.StateStopped {
		pid = 0
	}
	return &StateJSON{
		OCIVersion: specs.Version, ID: c.ID, Pid: pid, Status: string(status),
		Bundle: c.State.Bundle, Rootfs: c.State.Rootfs, Created: c.State.Created,
		Owner: c.State.Owner, Annotations: c.State.Annotations,
	}
}

// specState is the state given to hooks.
func (c *Container) specState(status specs.ContainerState) *specs.State {
	return &specs.State{
		Version: specs.Version, ID: c.ID, Status: status, Pid: c.State.InitPid,
		Bundle: c.State.Bundle, Annotations: c.State.Annotations,
	}
}

// errNotExist formats the error containerd matches on.
func errNotExist(id string) error {
	return fmt.Errorf("container %q %w", id, state.ErrNotExist)
}

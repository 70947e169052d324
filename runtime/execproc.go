package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/gocker/gocker/runtime/caps"
)

// ProcessFlags are exec's flags that shape the process when no --process
// file is given. Zero values mean "as in the container's config".
type ProcessFlags struct {
	Args           []string
	Cwd            string
	Env            []string
	User           string // UID[:GID]
	AdditionalGids []string
	Caps           []string
	NoNewPrivs     *bool
	Apparmor       string
	Label          string
	Tty            bool
}

// ExecProcess builds the process of an exec as runc does. From a --process
// file it is that process, with the container's capabilities and rlimits
// when the file has none (runc's libcontainer falls back to the config's
// too). From flags it is the container's process with the args replaced
// and the flags applied on top.
func (c *Container) ExecProcess(file string, f ProcessFlags) (*specs.Process, error) {
	var p *specs.Process
	if file != "" {
		var err error
		if p, err = readProcess(file); err != nil {
			return nil, err
		}
		if c.Spec != nil && c.Spec.Process != nil {
			base := c.Spec.Process
			if p.Capabilities == nil {
				p.Capabilities = base.Capabilities
			}
			if len(p.Rlimits) == 0 {
				p.Rlimits = base.Rlimits
			}
			if p.ApparmorProfile == "" {
				p.ApparmorProfile = base.ApparmorProfile
			}
		}
	} else {
		var err error
		if p, err = c.processFromFlags(f); err != nil {
			return nil, err
		}
	}
	return p, validateProcess(p)
}

func readProcess(file string) (*specs.Process, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read process file: %w", err)
	}
	var p specs.Process
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("process file %s: %w", file, err)
	}
	return &p, nil
}

func (c *Container) processFromFlags(f ProcessFlags) (*specs.Process, error) {
	if c.Spec == nil || c.Spec.Process == nil {
		return nil, errors.New("the container's config has no process to take defaults from; use --process")
	}
	p := deepCopyProcess(c.Spec.Process)
	p.Args = f.Args
	p.Terminal = f.Tty
	p.ConsoleSize = nil
	if f.Cwd != "" {
		p.Cwd = f.Cwd
	}
	p.Env = append(p.Env, f.Env...)
	if f.Apparmor != "" {
		// Applied by the init like create's (initproc/lsm.go).
		p.ApparmorProfile = f.Apparmor
	}
	if f.Label != "" {
		p.SelinuxLabel = f.Label
	}
	if f.NoNewPrivs != nil {
		p.NoNewPrivileges = *f.NoNewPrivs
	}
	if err := addCaps(p, f.Caps); err != nil {
		return nil, err
	}
	if f.User != "" {
		uid, gid, err := parseUser(f.User)
		if err != nil {
			return nil, err
		}
		p.User.UID, p.User.GID = uid, gid
		if !strings.Contains(f.User, ":") {
			p.User.GID = c.Spec.Process.User.GID
		}
	}
	for _, g := range f.AdditionalGids {
		gid, err := strconv.ParseUint(g, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("--additional-gids %q: not a numeric gid", g)
		}
		p.User.AdditionalGids = append(p.User.AdditionalGids, uint32(gid))
	}
	return p, nil
}

// addCaps adds --cap names to the bounding, effective and permitted sets,
// as runc exec --cap does, and to ambient when the name is inheritable:
// the kernel raises an ambient cap only if it is permitted and
// inheritable (capabilities(7)).
func addCaps(p *specs.Process, names []string) error {
	if len(names) == 0 {
		return nil
	}
	if p.Capabilities == nil {
		p.Capabilities = &specs.LinuxCapabilities{}
	}
	pc := p.Capabilities
	for _, n := range names {
		pc.Bounding = appendNew(pc.Bounding, n)
		pc.Effective = appendNew(pc.Effective, n)
		pc.Permitted = appendNew(pc.Permitted, n)
		if slices.Contains(pc.Inheritable, n) {
			pc.Ambient = appendNew(pc.Ambient, n)
		}
	}
	return caps.Validate(pc)
}

func appendNew(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

// parseUser parses --user UID[:GID]; names would have to be looked up in
// the container's /etc/passwd, which runc does not do either.
func parseUser(s string) (uint32, uint32, error) {
	us, gs, hasGid := strings.Cut(s, ":")
	uid, err := strconv.ParseUint(us, 10, 32)
	if err != nil {
		return 0, 0, fmt.Errorf("--user %q: want UID[:GID] with numeric ids", s)
	}
	var gid uint64
	if hasGid {
		if gid, err = strconv.ParseUint(gs, 10, 32); err != nil {
			return 0, 0, fmt.Errorf("--user %q: want UID[:GID] with numeric ids", s)
		}
	}
	return uint32(uid), uint32(gid), nil
}

// validateProcess checks what runc's validateProcessSpec checks, plus the
// capability names, so that a bad process fails before anything runs.
func validateProcess(p *specs.Process) error {
	if len(p.Args) == 0 {
		return errors.New("process: args must not be empty")
	}
	if p.Cwd == "" {
		return errors.New("process: cwd must not be empty")
	}
	if !filepath.IsAbs(p.Cwd) {
		return fmt.Errorf("process: cwd %q must be an absolute path", p.Cwd)
	}
	if p.Capabilities != nil {
		if err := caps.Validate(p.Capabilities); err != nil {
			return err
		}
	}
	return nil
}

func deepCopyProcess(p *specs.Process) *specs.Process {
	data, _ := json.Marshal(p)
	var out specs.Process
	json.Unmarshal(data, &out)
	return &out
}

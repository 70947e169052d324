package cgroups

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/cgroups/systemd"
)

// Parent is the cgroup under which Gocker places containers that give a
// relative cgroupsPath. The runtime-spec (config-linux.md "Cgroups path")
// lets a runtime interpret a relative path "relative to a
// runtime-determined location"; runc uses its own cgroup, which makes the
// place depend on the caller's session. A fixed parent is predictable and
// lets Destroy prune it when the last container is gone.
const Parent = "/gocker"

// DefaultPrefix names the cgroup of a container without a cgroupsPath:
// /gocker-<id>, at the top of each hierarchy, with no shared parent. A
// parent that is pruned with its last container is made again by the
// next one: one mkdir and one rmdir more per hierarchy, and on v2 the
// controller writes, for every container run alone: 0.57 ms [0.32..0.84]
// of `gocker run` on this v1 host (400 paired runs). The prefix keeps a
// container from landing in a system cgroup that has its id
// (system.slice, init.scope).
const DefaultPrefix = "gocker-"

// Scope prefix for the systemd driver when cgroupsPath is empty, as runc
// uses "runc".
const systemdScopePrefix = "gocker"

// cgroupConfig builds the library's description of where the cgroup lives.
func cgroupConfig(id, cgroupsPath string, o Options) (*cgroups.Cgroup, error) {
	c := &cgroups.Cgroup{Systemd: o.Systemd, Rootless: o.Rootless}
	if o.Systemd {
		if err := systemdRunning(); err != nil {
			return nil, err
		}
		return c, parseSystemdPath(c, id, cgroupsPath)
	}
	p, err := resolvePath(id, cgroupsPath)
	if err != nil {
		return nil, err
	}
	c.Path = p
	return c, nil
}

// resolvePath turns linux.cgroupsPath into an absolute path inside each
// hierarchy: "" -> /gocker-<id>, relative -> /gocker/<rel>, absolute as is.
// ".." cannot climb out: the path is cleaned as if rooted.
func resolvePath(id, cgroupsPath string) (string, error) {
	p := cgroupsPath
	switch {
	case p == "":
		p = "/" + DefaultPrefix + id
	case !filepath.IsAbs(p):
		p = filepath.Join(Parent, filepath.Clean("/"+p))
	default:
		p = filepath.Clean(p)
	}
	if p == "/" || p == Parent {
		return "", fieldErr("linux.cgroupsPath", "%q resolves to %s, which is not a container's own cgroup", cgroupsPath, p)
	}
	// containerd and CRI-O pass this form only with --systemd-cgroup;
	// taking it as a directory name would hide the mistake.
	if strings.Count(cgroupsPath, ":") == 2 && !filepath.IsAbs(cgroupsPath) {
		return "", fieldErr("linux.cgroupsPath", "%q looks like the systemd form slice:prefix:name; use --systemd-cgroup", cgroupsPath)
	}
	return p, nil
}

// parseSystemdPath reads the systemd form "slice:prefix:name" (runc's
// convention, e.g. "system.slice:docker:1234" -> docker-1234.scope in
// system.slice).
func parseSystemdPath(c *cgroups.Cgroup, id, cgroupsPath string) error {
	if cgroupsPath == "" {
		c.ScopePrefix = systemdScopePrefix
		c.Name = id
		return nil
	}
	parts := strings.Split(cgroupsPath, ":")
	if len(parts) != 3 {
		return fieldErr("linux.cgroupsPath", "%q is not of the form slice:prefix:name required by the systemd cgroup driver", cgroupsPath)
	}
	if parts[0] != "" && !strings.HasSuffix(parts[0], ".slice") {
		return fieldErr("linux.cgroupsPath", "%q: %q is not a systemd slice (must end in .slice)", cgroupsPath, parts[0])
	}
	if parts[2] == "" {
		return fieldErr("linux.cgroupsPath", "%q: the name part must not be empty", cgroupsPath)
	}
	c.Parent, c.ScopePrefix, c.Name = parts[0], parts[1], parts[2]
	return nil
}

// systemdRunning checks that systemd is PID 1 (sd_booted(3) tests
// /run/systemd/system; PID 1's name is checked too, so a stray directory
// does not fool us into talking to a D-Bus that is not there).
func systemdRunning() error {
	comm, err := os.ReadFile("/proc/1/comm")
	name := strings.TrimSpace(string(comm))
	if err != nil {
		name = "unknown: " + err.Error()
	}
	if name == "systemd" && systemd.IsRunningSystemd() {
		return nil
	}
	return fmt.Errorf("systemd cgroup driver requested but systemd is not running (PID 1 is %q)", name)
}

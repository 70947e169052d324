package cgroups

import (
	"fmt"

	"github.com/opencontainers/cgroups"
	devcfg "github.com/opencontainers/cgroups/devices/config"
)

// writeDevicesInOrder rewrites a new v1 cgroup's device rules in the order
// the config lists them. runtime-spec config-linux.md "Allowed Device
// List": "The runtime MUST apply entries in the listed order". The
// library's emulator writes the minimal transition in sorted order instead,
// which is what an update of a live cgroup wants, but not what a fresh one
// should show in devices.list (the kernel keeps exceptions in the order
// they are added). Only used at create, before the container runs: the
// first write denies everything for a moment.
func writeDevicesInOrder(dir string, rules []*devcfg.Rule) error {
	if len(rules) == 0 {
		return nil
	}
	if err := cgroups.WriteFile(dir, "devices.deny", "a"); err != nil {
		return fmt.Errorf("devices.deny: %w", err)
	}
	for _, r := range rules {
		file := "devices.deny"
		if r.Allow {
			file = "devices.allow"
		}
		if err := cgroups.WriteFile(dir, file, r.CgroupString()); err != nil {
			return fmt.Errorf("%s %q: %w", file, r.CgroupString(), err)
		}
	}
	return nil
}

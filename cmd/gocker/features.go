package main

import (
	"strings"

	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
	"github.com/urfave/cli/v2"

	"github.com/gocker/gocker/runtime/rootfs"
	"github.com/gocker/gocker/runtime/seccomp"
)

func init() {
	register(&cli.Command{
		Name:  "features",
		Usage: "print what this build of gocker supports (runtime-spec features.md JSON)",
		Action: func(c *cli.Context) error {
			if c.NArg() != 0 {
				return cli.Exit("features: takes no arguments", 1)
			}
			return printJSON(buildFeatures())
		},
	})
}

// buildFeatures reports what this build implements, read from the tables
// the code uses, never a hand-kept list that could drift from it.
func buildFeatures() *features.Features {
	yes, no := ptrBool(true), ptrBool(false)
	return &features.Features{
		OCIVersionMin: "1.0.0",
		OCIVersionMax: specs.Version,
		Hooks:         []string{"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"},
		MountOptions:  rootfs.MountOptions(),
		Linux: &features.Linux{
			Namespaces:   []string{"cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"},
			Capabilities: capabilityNames(),
			// The systemd driver makes system scopes; user (rootless)
			// systemd is not supported.
			Cgroup: &features.Cgroup{V1: yes, V2: yes, Systemd: yes, SystemdUser: no, Rdma: yes},
			Seccomp: &features.Seccomp{
				Enabled:        yes,
				Actions:        seccomp.Actions(), // SCMP_ACT_NOTIFY included: listenerPath works
				Operators:      seccomp.Operators(),
				Archs:          seccomp.Archs(),
				KnownFlags:     seccomp.KnownFlags(),
				SupportedFlags: seccomp.SupportedFlags(),
			},
			Apparmor:        &features.Apparmor{Enabled: no},
			Selinux:         &features.Selinux{Enabled: no},
			IntelRdt:        &features.IntelRdt{Enabled: no},
			MountExtensions: &features.MountExtensions{IDMap: &features.IDMap{Enabled: yes}},
			NetDevices:      &features.NetDevices{Enabled: no},
		},
		Annotations: map[string]string{
			"io.github.gocker.version": version,
			"io.github.gocker.commit":  commit,
		},
	}
}

// capabilityNames are the names process.capabilities accepts.
func capabilityNames() []string {
	var out []string
	for _, c := range capability.ListKnown() {
		out = append(out, "CAP_"+strings.ToUpper(c.String()))
	}
	return out
}

func ptrBool(b bool) *bool { return &b }

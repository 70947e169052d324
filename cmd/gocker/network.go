//go:build gocker_network

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v2"

	"github.com/gocker/gocker/hooks/network"
)

// This file is built into gocker-network only (-tags gocker_network): the
// network hook needs netlink and nftables, which gocker itself does not
// (network_fwd.go forwards these verbs there).
//
// `gocker hook network setup|teardown` is the bridge network hook: a bundle
// lists it in createRuntime (or prestart) and poststop, and the runtime
// passes the container state on stdin. `gocker network ls|prune` inspect and
// clean up. See hooks/network/README.md for the settings.

func networkSettingFlags() []cli.Flag {
	flags := []cli.Flag{stateDirFlag()}
	for _, k := range network.Keys {
		flags = append(flags, &cli.StringFlag{Name: k, Usage: "overrides annotation " + network.AnnotationPrefix + k})
	}
	return flags
}

func stateDirFlag() cli.Flag {
	return &cli.StringFlag{Name: "state-dir", Usage: "lease store (default $" + network.StateDirEnv + " or " + network.DefaultStateDir + ")"}
}

func networkHookAction(verb string) cli.ActionFunc {
	return func(c *cli.Context) error {
		st, err := network.ReadState(os.Stdin)
		if err != nil {
			return err
		}
		set := map[string]string{}
		for _, k := range network.Keys {
			if c.IsSet(k) {
				set[k] = c.String(k)
			}
		}
		cfg, err := network.Resolve(st.Annotations, set)
		if err != nil {
			return err
		}
		if verb == "setup" {
			_, err = network.Setup(st, cfg, c.String("state-dir"))
			return err
		}
		return network.Teardown(st, cfg, c.String("state-dir"))
	}
}

func networkLs(c *cli.Context) error {
	nets, err := network.List(c.String("state-dir"))
	if err != nil {
		return err
	}
	if c.String("format") == "json" {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(nets)
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "NETWORK\tSUBNET\tGATEWAY\tCONTAINER\tIP\tVETH\tPORTS\tSTATUS")
	for _, n := range nets {
		for _, l := range n.Leases {
			ports := make([]string, len(l.Ports))
			for i, p := range l.Ports {
				ports[i] = p.String()
			}
			status := "stale"
			if l.Alive {
				status = "alive"
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", n.Bridge, n.Subnet, n.Gateway, l.ID, l.IP,
				l.HostVeth, strings.Join(ports, ","), status)
		}
	}
	return w.Flush()
}

func networkPrune(c *cli.Context) error {
	rep, err := network.Prune(c.String("state-dir"))
	for _, kind := range []struct {
		name  string
		items []string
	}{{"lease", rep.Leases}, {"veth", rep.Veths}, {"rules", rep.Rules}, {"table", rep.Tables}, {"bridge", rep.Bridges}} {
		for _, it := range kind.items {
			fmt.Printf("removed %s %s\n", kind.name, it)
		}
	}
	return err
}

func init() {
	register(&cli.Command{
		Name:  "hook",
		Usage: "built-in OCI hooks, run by the runtime with the container state on stdin",
		Subcommands: []*cli.Command{{
			Name:  "network",
			Usage: "bridge network hook (hooks/network/README.md)",
			Subcommands: []*cli.Command{
				{Name: "setup", Usage: "connect the container (createRuntime or prestart hook)", Flags: networkSettingFlags(), Action: networkHookAction("setup")},
				{Name: "teardown", Usage: "disconnect the container (poststop hook); idempotent", Flags: networkSettingFlags(), Action: networkHookAction("teardown")},
			},
		}},
	})
	register(&cli.Command{
		Name:  "network",
		Usage: "list and clean up gocker bridge networks",
		Subcommands: []*cli.Command{
			{Name: "ls", Usage: "show networks and leases", Action: networkLs, Flags: []cli.Flag{
				stateDirFlag(), &cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "table", Usage: "table or json"}}},
			{Name: "prune", Usage: "remove orphaned veths, leases, rules, tables and bridges", Action: networkPrune, Flags: []cli.Flag{stateDirFlag()}},
		},
	})
}

// addNetwork wires the hook with this binary's absolute path, since
// runtime-spec requires absolute hook paths.
func addNetwork(c *cli.Context, s *specs.Spec) error {
	opts := map[string]string{}
	for _, kv := range c.StringSlice("network-opt") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return fmt.Errorf("--network-opt %q: want KEY=VALUE", kv)
		}
		opts[k] = v
	}
	cfg, err := network.Resolve(nil, opts)
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the gocker binary: %w", err)
	}
	return network.AddToSpec(s, self, cfg)
}

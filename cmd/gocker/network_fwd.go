//go:build !gocker_network

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v2"
)

// gocker leaves the network hook to gocker-network, the same CLI built
// with the hook (-tags gocker_network; network.go): netlink, nftables and
// the net package are a quarter of the binary, and every gocker process
// paid for them at start and in resident pages (measured: run /bin/true
// 0.8 ms faster and 0.4 MiB lower without them). `gocker hook network`,
// `gocker network` and `gocker spec --network` exec gocker-network beside
// gocker with the same arguments, so bundles and scripts written for one
// binary keep working; `gocker spec --network` writes hooks that run
// gocker-network directly.
const networkBinaryName = "gocker-network"

func forwardToNetwork(*cli.Context) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the gocker binary: %w", err)
	}
	p := filepath.Join(filepath.Dir(exe), networkBinaryName)
	if _, err := os.Stat(p); err != nil {
		return fmt.Errorf("%s not found beside %s: the network hook and `gocker network` live there; install both binaries (make install)", networkBinaryName, exe)
	}
	args := append([]string{networkBinaryName}, os.Args[1:]...)
	return fmt.Errorf("exec %s: %w", p, syscall.Exec(p, args, os.Environ()))
}

func addNetwork(c *cli.Context, _ *specs.Spec) error { return forwardToNetwork(c) }

func init() {
	fwd := func(name, usage string) *cli.Command {
		return &cli.Command{Name: name, Usage: usage, SkipFlagParsing: true, Action: forwardToNetwork}
	}
	register(
		fwd("hook", "built-in OCI hooks (the bridge network hook), run by gocker-network"),
		fwd("network", "list and clean up gocker bridge networks (gocker-network)"),
	)
}

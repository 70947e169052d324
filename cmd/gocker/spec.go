package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	gspec "github.com/gocker/gocker/spec"
)

func init() {
	register(&cli.Command{
		Name:  "spec",
		Usage: "write a default config.json",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "bundle", Aliases: []string{"b"}, Usage: "directory to write config.json in"},
			&cli.BoolFlag{Name: "rootless", Usage: "a config for rootless containers"},
			&cli.StringFlag{Name: "network", Usage: "\"bridge\": add gocker's network hook (see hooks/network/README.md)"},
			&cli.StringSliceFlag{Name: "network-opt", Usage: "a network hook setting KEY=VALUE (bridge, subnet, ip, mtu, ports, hosts, resolv, dns)"},
		},
		Action: func(c *cli.Context) error {
			s := gspec.Default()
			if c.Bool("rootless") {
				gspec.MakeRootless(s, uint32(os.Geteuid()), uint32(os.Getegid()))
			}
			switch n := c.String("network"); n {
			case "":
				if len(c.StringSlice("network-opt")) > 0 {
					return fmt.Errorf("--network-opt needs --network bridge")
				}
			case "bridge":
				if err := addNetwork(c, s); err != nil {
					return err
				}
			default:
				return fmt.Errorf("--network: unknown mode %q (want bridge)", n)
			}
			dir := c.String("bundle")
			if dir == "" {
				dir = "."
			}
			return gspec.Write(s, filepath.Join(dir, "config.json"))
		},
	})
}

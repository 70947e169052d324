package main

import (
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
		},
		Action: func(c *cli.Context) error {
			s := gspec.Default()
			if c.Bool("rootless") {
				gspec.MakeRootless(s, uint32(os.Geteuid()), uint32(os.Getegid()))
			}
			dir := c.String("bundle")
			if dir == "" {
				dir = "."
			}
			return gspec.Write(s, filepath.Join(dir, "config.json"))
		},
	})
}

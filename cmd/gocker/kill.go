package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/gocker/gocker/runtime"
	gspec "github.com/gocker/gocker/spec"
)

func init() {
	register(&cli.Command{
		Name:      "kill",
		Usage:     "send a signal (default TERM) to the container's init",
		ArgsUsage: "<container-id> [signal]",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "signal every process in the container"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() < 1 || c.NArg() > 2 {
				return fmt.Errorf("kill: expected 1 or 2 arguments, got %d", c.NArg())
			}
			sigName := "SIGTERM"
			if c.NArg() == 2 {
				sigName = c.Args().Get(1)
			}
			sig, err := gspec.ParseSignal(sigName)
			if err != nil {
				return err
			}
			return runtime.Kill(opts(c), c.Args().First(), sig, c.Bool("all"))
		},
	})
}

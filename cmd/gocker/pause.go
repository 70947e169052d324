package main

import (
	"github.com/urfave/cli/v2"

	"github.com/gocker/gocker/runtime"
)

func init() {
	register(&cli.Command{
		Name:      "pause",
		Usage:     "freeze every process of the container",
		ArgsUsage: "<container-id>",
		Action: func(c *cli.Context) error {
			id, err := oneID(c)
			if err != nil {
				return err
			}
			return runtime.Pause(opts(c), id)
		},
	})
}

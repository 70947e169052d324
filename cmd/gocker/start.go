package main

import (
	"os"

	"github.com/urfave/cli/v2"

	"github.com/gocker/gocker/runtime"
)

func init() {
	register(&cli.Command{
		Name:      "start",
		Usage:     "start the user process of a created container",
		ArgsUsage: "<container-id>",
		Action: func(c *cli.Context) error {
			id, err := oneID(c)
			if err != nil {
				return err
			}
			return runtime.Start(opts(c), id, os.Getenv("NOTIFY_SOCKET"))
		},
	})
}

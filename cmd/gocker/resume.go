package main

import (
	"github.com/urfave/cli/v2"

	"github.com/gocker/gocker/runtime"
)

func init() {
	register(&cli.Command{
		Name:      "resume",
		Usage:     "thaw a paused container",
		ArgsUsage: "<container-id>",
		Action: func(c *cli.Context) error {
			id, err := oneID(c)
			if err != nil {
				return err
			}
			return runtime.Resume(opts(c), id)
		},
	})
}

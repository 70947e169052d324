package main

import (
	"github.com/urfave/cli/v2"

	"github.com/gocker/gocker/runtime"
)

func init() {
	flags := append(createFlags(),
		&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "detach from the container's process"},
		&cli.BoolFlag{Name: "keep", Usage: "do not delete the container after it exits"},
		&cli.BoolFlag{Name: "no-subreaper", Usage: "do not become a child subreaper"},
	)
	register(&cli.Command{
		Name:      "run",
		Usage:     "create and start a container, and wait for it unless detached",
		ArgsUsage: "<container-id>",
		Flags:     flags,
		Action: func(c *cli.Context) error {
			id, err := oneID(c)
			if err != nil {
				return err
			}
			co, err := createOpts(c, id)
			if err != nil {
				return err
			}
			code, err := runtime.Run(opts(c), co, runtime.RunOpts{
				Detach: c.Bool("detach"), Keep: c.Bool("keep"), NoSubreaper: c.Bool("no-subreaper"),
			})
			if err != nil {
				return err
			}
			if code != 0 {
				return exitStatus(code)
			}
			return nil
		},
	})
}

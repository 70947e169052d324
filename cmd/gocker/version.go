package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

func init() {
	register(&cli.Command{
		Name:  "version",
		Usage: "print the version",
		Action: func(c *cli.Context) error {
			fmt.Printf("gocker version %s\ncommit: %s\nspec: %s\n", version, commit, specVersion())
			return nil
		},
	})
}

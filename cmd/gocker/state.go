package main

import (
	"encoding/json"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/gocker/gocker/runtime"
)

func init() {
	register(&cli.Command{
		Name:      "state",
		Usage:     "print the OCI state of a container",
		ArgsUsage: "<container-id>",
		Action: func(c *cli.Context) error {
			id, err := oneID(c)
			if err != nil {
				return err
			}
			ct, err := runtime.LoadBrief(opts(c), id)
			if err != nil {
				return err
			}
			return printJSON(ct.OCIState())
		},
	})
}

func printJSON(v any) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

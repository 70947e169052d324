package main

import (
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/gocker/gocker/runtime"
)

func init() {
	register(&cli.Command{
		Name:  "list",
		Usage: "list containers",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "table", Usage: "table or json"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print only IDs"},
		},
		Action: func(c *cli.Context) error {
			cs, err := runtime.List(opts(c))
			if err != nil {
				return err
			}
			states := make([]*runtime.StateJSON, 0, len(cs))
			for _, ct := range cs {
				states = append(states, ct.OCIState())
			}
			if c.Bool("quiet") {
				for _, s := range states {
					fmt.Println(s.ID)
				}
				return nil
			}
			switch c.String("format") {
			case "json":
				return printJSON(states)
			case "table":
				w := tabwriter.NewWriter(os.Stdout, 12, 1, 3, ' ', 0)
				fmt.Fprint(w, "ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER\n")
				for _, s := range states {
					fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\n", s.ID, s.Pid, s.Status, s.Bundle, s.Created.Format(time.RFC3339Nano), s.Owner)
				}
				return w.Flush()
			default:
				return fmt.Errorf("invalid format option %q (want table or json)", c.String("format"))
			}
		},
	})
}

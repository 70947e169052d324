package main

import (
	"encoding/json"
	"os"
	"os/signal"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/gocker/gocker/runtime"
)

func init() {
	register(&cli.Command{
		Name:      "events",
		Usage:     "print the container's stats and OOM events as JSON lines",
		ArgsUsage: "<container-id>",
		Description: `Every --interval a {"type":"stats","id":ID,"data":{...}} line, and an
{"type":"oom","id":ID} line each time the OOM killer acts in the container,
until the container stops. With --stats, one stats line and exit.`,
		Flags: []cli.Flag{
			&cli.DurationFlag{Name: "interval", Value: 5 * time.Second, Usage: "time between stats events"},
			&cli.BoolFlag{Name: "stats", Usage: "print the stats once and exit"},
		},
		Action: func(c *cli.Context) error {
			id, err := oneID(c)
			if err != nil {
				return err
			}
			// A stop request ends the stream cleanly (exit 0), like the
			// container stopping.
			ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, unix.SIGTERM)
			defer stop()
			enc := json.NewEncoder(os.Stdout) // one compact object per line
			eo := runtime.EventOptions{StatsOnce: c.Bool("stats"), Interval: c.Duration("interval")}
			return runtime.Events(ctx, opts(c), id, eo, func(e *runtime.Event) error { return enc.Encode(e) })
		},
	})
}

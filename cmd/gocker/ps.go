package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/gocker/gocker/runtime"
)

func init() {
	register(&cli.Command{
		Name:      "ps",
		Usage:     "list the processes of a container",
		ArgsUsage: "<container-id> [ps options]",
		Description: `table runs ps(1) with the given options (default -ef) and keeps the
header and the rows whose PID is in the container's cgroup; json prints
a JSON array of those host pids.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "table", Usage: "table or json"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() < 1 {
				return fmt.Errorf("ps: container id cannot be empty")
			}
			id := c.Args().First()
			format := c.String("format")
			if format != "table" && format != "json" {
				return fmt.Errorf("ps: invalid format %q (want table or json)", format)
			}
			pids, err := runtime.Processes(opts(c), id)
			if err != nil {
				return err
			}
			if format == "json" {
				return printJSONLine(pids)
			}
			return psTable(pids, psArgs(c.Args().Slice()[1:]))
		},
	})
}

// psArgs drops a leading "--" (which runc would hand to ps) and empty
// strings (go-runc's Top passes "" for no options); none means -ef.
func psArgs(args []string) []string {
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	args = slices.DeleteFunc(slices.Clone(args), func(s string) bool { return s == "" })
	if len(args) == 0 {
		return []string{"-ef"}
	}
	return args
}

// psTable prints ps's header and the lines of the container's processes.
func psTable(pids []int, args []string) error {
	out, err := exec.Command("ps", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ps %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	col := slices.Index(strings.Fields(lines[0]), "PID")
	if col < 0 {
		return fmt.Errorf("ps: no PID column in the output of ps %s", strings.Join(args, " "))
	}
	fmt.Println(lines[0])
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if col >= len(f) {
			continue
		}
		if pid, err := strconv.Atoi(f[col]); err == nil && slices.Contains(pids, pid) {
			fmt.Println(l)
		}
	}
	return nil
}

// printJSONLine prints v compact on one line, as runc's ps does.
func printJSONLine(v any) error { return json.NewEncoder(os.Stdout).Encode(v) }

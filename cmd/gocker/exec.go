package main

import (
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/gocker/gocker/runtime"
)

func execFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "process", Aliases: []string{"p"}, Usage: "path to a process.json (runtime-spec process object)"},
		&cli.BoolFlag{Name: "tty", Aliases: []string{"t"}, Usage: "allocate a pseudo-TTY"},
		&cli.StringFlag{Name: "console-socket", Usage: "unix socket that receives the pty master (with --detach --tty)"},
		&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "detach from the process"},
		&cli.StringFlag{Name: "pid-file", Usage: "write the process's pid to this file"},
		&cli.StringFlag{Name: "pidfd-socket", Usage: "unix socket that receives a pidfd of the process"},
		&cli.StringFlag{Name: "cwd", Usage: "working directory in the container"},
		&cli.StringSliceFlag{Name: "env", Aliases: []string{"e"}, Usage: "add an environment variable K=V"},
		&cli.StringFlag{Name: "user", Aliases: []string{"u"}, Usage: "UID[:GID]"},
		&cli.StringSliceFlag{Name: "additional-gids", Aliases: []string{"g"}, Usage: "additional gids"},
		&cli.StringSliceFlag{Name: "cap", Aliases: []string{"c"}, Usage: "add a capability (bounding, effective, permitted)"},
		&cli.BoolFlag{Name: "no-new-privs", Usage: "set no_new_privs for the process"},
		&cli.StringFlag{Name: "apparmor", Usage: "AppArmor profile for the process (ignored when AppArmor is off, as in runc)"},
		&cli.StringFlag{Name: "process-label", Usage: "SELinux label for the process (ignored when SELinux is off, as in runc)"},
		&cli.IntFlag{Name: "preserve-fds", Usage: "pass N extra fds (3..3+N-1) to the process"},
		&cli.BoolFlag{Name: "ignore-paused", Usage: "allow exec in a paused container"},
		&cli.StringSliceFlag{Name: "cgroup", Usage: "run in an existing sub-cgroup: [<controller>:]<path>"},
	}
}

func init() {
	register(&cli.Command{
		Name:      "exec",
		Usage:     "run a new process inside a running container",
		ArgsUsage: "<container-id> <command> [args...] || --process process.json <container-id>",
		Flags:     execFlags(),
		// Flag parsing stops at the container ID: what follows is the
		// command line of the process (as with runc). With --process the
		// terminal setting comes from the file.
		Action: execAction,
	})
}

// execAction fails with exit code 255, as runc exec does, so that a caller
// can tell gocker's failure from most exit codes of the process.
func execAction(c *cli.Context) error {
	err := execCommand(c)
	var ec exitStatus
	if err != nil && !asExit(err, &ec) {
		reportError(fmt.Errorf("exec failed: %w", err))
		return exitStatus(255)
	}
	return err
}

func execCommand(c *cli.Context) error {
	if c.NArg() < 1 {
		return errors.New("exec: container id cannot be empty")
	}
	id := c.Args().First()
	args := c.Args().Slice()[1:]
	file := c.String("process")
	if file == "" && len(args) == 0 {
		return errors.New("exec: args must not be empty (give a command or --process)")
	}
	ct, err := runtime.Load(opts(c), id)
	if err != nil {
		return err
	}
	pf := runtime.ProcessFlags{
		Args: args, Cwd: c.String("cwd"), Env: c.StringSlice("env"), User: c.String("user"),
		AdditionalGids: c.StringSlice("additional-gids"), Caps: c.StringSlice("cap"),
		Apparmor: c.String("apparmor"), Label: c.String("process-label"), Tty: c.Bool("tty"),
	}
	if c.IsSet("no-new-privs") {
		v := c.Bool("no-new-privs")
		pf.NoNewPrivs = &v
	}
	proc, err := ct.ExecProcess(file, pf)
	if err != nil {
		return err
	}
	code, err := ct.Exec(runtime.ExecOpts{
		Process: proc, ConsoleSocket: c.String("console-socket"), Detach: c.Bool("detach"),
		PidFile: c.String("pid-file"), PidfdSocket: c.String("pidfd-socket"),
		PreserveFDs: c.Int("preserve-fds"), IgnorePaused: c.Bool("ignore-paused"), Cgroups: c.StringSlice("cgroup"),
	})
	if err != nil {
		return err
	}
	if code != 0 {
		return exitStatus(code)
	}
	return nil
}

package main

import (
	"os"
	"strconv"

	"github.com/urfave/cli/v2"

	"github.com/gocker/gocker/runtime"
)

func createFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "bundle", Aliases: []string{"b"}, Usage: "path to the bundle (default: current directory)"},
		&cli.StringFlag{Name: "pid-file", Usage: "write the init pid to this file"},
		&cli.StringFlag{Name: "console-socket", Usage: "unix socket that receives the pty master"},
		&cli.StringFlag{Name: "pidfd-socket", Usage: "unix socket that receives a pidfd of the init"},
		&cli.BoolFlag{Name: "no-pivot", Usage: "do not use pivot_root (for a rootfs on a ramdisk)"},
		&cli.BoolFlag{Name: "no-new-keyring", Usage: "do not create a new session keyring"},
		&cli.IntFlag{Name: "preserve-fds", Usage: "pass N extra fds (3..3+N-1) to the container"},
	}
}

func createOpts(c *cli.Context, id string) (runtime.CreateOpts, error) {
	bundle := c.String("bundle")
	if bundle == "" {
		wd, err := os.Getwd()
		if err != nil {
			return runtime.CreateOpts{}, err
		}
		bundle = wd
	}
	return runtime.CreateOpts{
		ID: id, Bundle: bundle, PidFile: c.String("pid-file"), ConsoleSocket: c.String("console-socket"),
		NoPivot: c.Bool("no-pivot"), NoNewKeyring: c.Bool("no-new-keyring"), PreserveFDs: c.Int("preserve-fds"),
		ListenFDs: listenFDs(), NotifySocket: os.Getenv("NOTIFY_SOCKET"), PidfdSocket: c.String("pidfd-socket"),
	}, nil
}

// listenFDs is the number of socket-activation fds systemd gave us
// (sd_listen_fds(3)): LISTEN_FDS fds from 3, meant for us only when
// LISTEN_PID is our pid.
func listenFDs() int {
	if os.Getenv("LISTEN_PID") != strconv.Itoa(os.Getpid()) {
		return 0
	}
	n, err := strconv.Atoi(os.Getenv("LISTEN_FDS"))
	if err != nil || n < 0 {
		return 0
	}
	return n
}

func init() {
	register(&cli.Command{
		Name:      "create",
		Usage:     "create a container",
		ArgsUsage: "<container-id>",
		Flags:     createFlags(),
		Action: func(c *cli.Context) error {
			id, err := oneID(c)
			if err != nil {
				return err
			}
			co, err := createOpts(c, id)
			if err != nil {
				return err
			}
			_, _, err = runtime.Create(opts(c), co)
			return err
		},
	})
}

package main

import (
	"errors"
	"fmt"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"github.com/urfave/cli/v2"

	"github.com/gocker/gocker/runtime"
)

func globalFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "root", Value: runtime.DefaultRootDir, Usage: "root directory for container state (rootless: $XDG_RUNTIME_DIR/gocker)"},
		&cli.StringFlag{Name: "log", Usage: "log file (default: stderr)"},
		&cli.StringFlag{Name: "log-format", Value: "text", Usage: "log format: text or json"},
		&cli.BoolFlag{Name: "debug", Usage: "debug logging"},
		&cli.BoolFlag{Name: "systemd-cgroup", Usage: "use the systemd cgroup driver"},
		&cli.StringFlag{Name: "rootless", Value: "auto", Usage: "rootless mode: true, false or auto"},
	}
}

// logFile is set when --log names a file; errors then go there and to stderr.
var logFile *os.File

func setupLogging(c *cli.Context) error {
	if c.Bool("debug") {
		logrus.SetLevel(logrus.DebugLevel)
	}
	switch f := c.String("log-format"); f {
	case "text":
		logrus.SetFormatter(&logrus.TextFormatter{DisableColors: true})
	case "json":
		logrus.SetFormatter(&logrus.JSONFormatter{})
	default:
		return fmt.Errorf("unknown log-format %q (want text or json)", f)
	}
	if path := c.String("log"); path != "" {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND|os.O_SYNC, 0o644)
		if err != nil {
			return fmt.Errorf("open log file: %w", err)
		}
		logFile = f
		logrus.SetOutput(f)
	}
	var err error
	if rootless, err = runtime.UseRootless(c.String("rootless")); err != nil {
		return err
	}
	if !c.IsSet("root") {
		root, err := runtime.DefaultRoot()
		if err != nil {
			if statelessVerbs[c.Args().First()] {
				return nil
			}
			return err
		}
		return c.Set("root", root)
	}
	return nil
}

// rootless is --rootless resolved (runtime.UseRootless).
var rootless bool

// statelessVerbs never touch --root, so they work for a rootless user
// without XDG_RUNTIME_DIR.
var statelessVerbs = map[string]bool{
	"": true, "spec": true, "version": true, "features": true, "help": true, "h": true,
	"init": true, "hook": true, "network": true,
}

// reportError logs the final error once at error level (containerd reads
// the last error line of --log) and prints it to stderr.
func reportError(err error) {
	if logFile != nil {
		logrus.Error(err.Error())
	}
	fmt.Fprintf(os.Stderr, "gocker: %v\n", err)
}

// exitStatus is an error that only carries an exit code (run's container
// status); it is not reported.
type exitStatus int

func (e exitStatus) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

func asExit(err error, out *exitStatus) bool { return errors.As(err, out) }

func opts(c *cli.Context) runtime.Options {
	return runtime.Options{
		Root:          c.String("root"),
		SystemdCgroup: c.Bool("systemd-cgroup"),
		Rootless:      rootless,
	}
}

// oneID returns the single container ID argument.
func oneID(c *cli.Context) (string, error) {
	if c.NArg() < 1 {
		return "", fmt.Errorf("%s: container id cannot be empty", c.Command.Name)
	}
	if c.NArg() > 1 {
		return "", fmt.Errorf("%s: expected 1 argument, got %d", c.Command.Name, c.NArg())
	}
	return c.Args().First(), nil
}

func specVersion() string { return specs.Version }

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
		&cli.StringFlag{Name: "root", Value: "/run/gocker", Usage: "root directory for container state"},
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
	switch r := c.String("rootless"); r {
	case "auto", "false":
	case "true":
		if os.Geteuid() == 0 {
			return errors.New("--rootless=true: gocker is running as root; rootless mode is for unprivileged users")
		}
		return errors.New("--rootless=true: rootless mode is not supported yet")
	default:
		return fmt.Errorf("--rootless: invalid value %q (want true, false or auto)", r)
	}
	return nil
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

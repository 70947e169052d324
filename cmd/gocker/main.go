// Command gocker is an OCI runtime with runc's command line.
package main

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"
)

// Set by the Makefile through -ldflags -X.
var (
	version = "0.1.0-dev"
	commit  = "unknown"
)

// commands holds every verb; each verb's file adds itself in an init func,
// so adding a verb never touches this file.
var commands []*cli.Command

func register(c ...*cli.Command) { commands = append(commands, c...) }

func main() {
	app := newApp()
	err := app.Run(os.Args)
	os.Exit(exitCode(err))
}

func newApp() *cli.App {
	return &cli.App{
		Name:                   "gocker",
		Usage:                  "an OCI container runtime",
		Version:                version,
		Commands:               commands,
		Flags:                  globalFlags(),
		Before:                 setupLogging,
		ExitErrHandler:         func(*cli.Context, error) {}, // main reports and exits
		UseShortOptionHandling: true,
		EnableBashCompletion:   false,
		HideVersion:            false,
	}
}

// exitCode reports err once (log + stderr) and maps it to a process exit code.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ec exitStatus
	if asExit(err, &ec) {
		return int(ec)
	}
	reportError(err)
	return 1
}

func init() {
	cli.VersionPrinter = func(c *cli.Context) {
		fmt.Printf("gocker version %s\ncommit: %s\nspec: %s\n", version, commit, specVersion())
	}
}

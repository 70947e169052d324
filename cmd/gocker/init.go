package main

import (
	"fmt"
	"os"

	"github.com/gocker/gocker/runtime/initproc"
	_ "github.com/gocker/gocker/runtime/nsenter" // joins user/mnt namespaces before Go starts
)

// runInit is the container's init: `gocker init`, only ever started by
// gocker itself. It bypasses the CLI app, which it does not need, to keep
// container start fast.
func runInit() {
	err := initproc.Main()
	if err != nil {
		// The parent has the error over the sync socket; this is for the
		// case where it could not be sent.
		fmt.Fprintf(os.Stderr, "gocker init: %v\n", err)
	}
	os.Exit(1)
}

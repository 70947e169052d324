package main

import (
	"os"

	"github.com/gocker/gocker/runtime/initproc"
	_ "github.com/gocker/gocker/runtime/nsenter" // joins user/mnt namespaces before Go starts
)

// runInit is the container's init: `gocker init`, only ever started by
// gocker itself. It bypasses the CLI app, which it does not need, to keep
// container start fast.
func runInit() {
	initproc.Main() // returns only on failure, already reported
	os.Exit(1)
}

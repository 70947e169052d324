// Command gocker-init is the container's init, the program gocker starts
// inside a new container (and for exec). It is `gocker init` without the
// CLI, the cgroup library, the network hook and the rest: a binary half
// the size starts faster and keeps fewer pages resident until it execs
// the container's program (issue 2). gocker runs it from the directory it
// lives in, and falls back to `gocker init` when there is none
// (runtime/selfexe.go).
package main

import (
	"os"

	"github.com/gocker/gocker/runtime/initproc"
	_ "github.com/gocker/gocker/runtime/nsenter" // joins user/mnt namespaces before Go starts
)

func main() {
	// gocker starts us as "gocker init"; nsenter and initproc key their
	// early work (non-dumpable, namespace joins) on that argv.
	if len(os.Args) < 2 || os.Args[1] != "init" {
		os.Stderr.WriteString("gocker-init: internal to gocker, not to be run by hand\n")
		os.Exit(2)
	}
	initproc.Main() // returns only on failure, already reported
	os.Exit(1)
}

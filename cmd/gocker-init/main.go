// Command gocker-init is the container's init, the program gocker starts
// inside a new container (and for exec). It is the init alone, without
// the CLI, the cgroup library and the rest: a small binary starts faster
// and keeps fewer pages resident until it execs the container's program
// (issue 2). gocker runs it from its own directory (runtime/selfexe.go).
//
// It is built twice. gocker-init is pure Go: its entry point makes it
// non-dumpable before the Go runtime runs (rt0_linux_amd64.s), and it is
// what a new container runs. gocker-nsenter is the cgo build with the
// runtime/nsenter constructor, which joins user, mount and time
// namespaces before the runtime starts threads: exec, and a container
// that joins such namespaces by path, run it. The cgo build's libc and
// pthreads cost 1.4 ms per container start (measured, run /bin/true).
package main

import (
	"os"

	"github.com/gocker/gocker/runtime/initproc"
)

func main() {
	// gocker starts us as "gocker init"; the nsenter constructor keys its
	// early work (non-dumpable, namespace joins) on that argv.
	if len(os.Args) < 2 || os.Args[1] != "init" {
		os.Stderr.WriteString("gocker-init: internal to gocker, not to be run by hand\n")
		os.Exit(2)
	}
	// Both builds are non-dumpable before Go runs (the asm entry, the C
	// constructor). A build that lost its entry point (no -E) is refused.
	if initproc.StartedDumpable() {
		os.Stderr.WriteString("gocker-init: dumpable at start: built without its entry point (see the Makefile)\n")
		os.Exit(2)
	}
	initproc.Main() // returns only on failure, already reported
	os.Exit(1)
}

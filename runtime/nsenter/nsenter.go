// Package nsenter links in a C constructor that joins user and mount
// namespaces (and unshares namespaces owned by them) before the Go runtime
// starts threads. Import it for its side effect from the main package.
//
// The parent sets, in the child's environment:
//
//	_GOCKER_NSENTER=user:/proc/PID/ns/user,mnt:/proc/PID/ns/mnt
//	_GOCKER_UNSHARE=<hex clone flags>
package nsenter

/*
#cgo CFLAGS: -Wall -O2
*/
import "C"

// Env names read by the constructor.
const (
	EnvJoin    = "_GOCKER_NSENTER"
	EnvUnshare = "_GOCKER_UNSHARE"
	// EnvFork asks the constructor to fork after joining (for a joined
	// pid namespace) and to report the child's pid as a "pid" message.
	EnvFork = "_GOCKER_NSENTER_FORK"
)

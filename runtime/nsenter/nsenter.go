// Package nsenter links a C constructor into gocker-init that joins user
// and mount namespaces (and unshares namespaces owned by them) before the
// Go runtime starts threads, and makes the process non-dumpable from its
// first instruction. Import it for its side effect from the main package
// of gocker-init; it needs cgo. The parent sets, in the child's
// environment (see runtime/proto):
//
//	_GOCKER_NSENTER=user:/proc/PID/ns/user,mnt:/proc/PID/ns/mnt
//	_GOCKER_UNSHARE=<hex clone flags>
//	_GOCKER_NSENTER_FORK=1
package nsenter

/*
#cgo CFLAGS: -Wall -O2
*/
import "C"

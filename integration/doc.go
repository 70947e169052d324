// Package integration holds Gocker's root-only end-to-end tests.
//
// The tests drive a runtime binary through its runc-compatible command line,
// so the same suite proves gocker and, as a reference, runc or crun:
//
//	GOCKER_TEST_RUNTIME=/usr/sbin/runc go test -count=1 -p 1 ./integration/
//	GOCKER_TEST_BINARY=/work/main/bin/gocker go test -count=1 -p 1 ./integration/
//
// GOCKER_TEST_RUNTIME wins when both are set; with neither, every test skips.
// The few assertions that only hold for gocker (its exact error wording, where
// runc deviates from the runtime-spec) are guarded by isGocker().
//
// Every test gets its own --root, log file and bundle directories, and its
// cleanup checks that no state directory, cgroup or process is left behind.
package integration

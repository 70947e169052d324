// Package cgroups is Gocker's adapter over github.com/opencontainers/cgroups.
//
// It turns the runtime-spec's linux.resources and linux.cgroupsPath into a
// cgroup that holds the container (cgroup v1, v2 or systemd), and gives the
// runtime the few operations it needs: Apply, Set, freeze and thaw, kill
// everything, Destroy, stats in runc's `events --stats` shape and OOM
// notifications.
package cgroups

import (
	"errors"
	"fmt"
)

// FieldError is a configuration error that names the config.json field it is
// about, e.g. "linux.resources.memory.limit: -5 is not a valid limit".
type FieldError struct {
	Field string // dotted path inside config.json
	Msg   string
	Err   error // optional cause
}

func (e *FieldError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Field, e.Msg, e.Err)
	}
	return e.Field + ": " + e.Msg
}

func (e *FieldError) Unwrap() error { return e.Err }

func fieldErr(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// ErrShared is returned by KillAll for a cgroup the container joined rather
// than created: the other processes in it are not the container's to kill.
var ErrShared = errors.New("cgroup is shared with processes outside the container")

// Package hooks runs OCI lifecycle hooks (runtime-spec config.md, "POSIX-platform Hooks").
package hooks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Kind names a hook list as config.json spells it.
type Kind string

const (
	Prestart        Kind = "prestart"
	CreateRuntime   Kind = "createRuntime"
	CreateContainer Kind = "createContainer"
	StartContainer  Kind = "startContainer"
	Poststart       Kind = "poststart"
	Poststop        Kind = "poststop"
)

// List returns the hooks of kind k in h (nil-safe).
func List(h *specs.Hooks, k Kind) []specs.Hook {
	if h == nil {
		return nil
	}
	switch k {
	case Prestart:
		return h.Prestart //nolint:staticcheck // deprecated in the spec, still run
	case CreateRuntime:
		return h.CreateRuntime
	case CreateContainer:
		return h.CreateContainer
	case StartContainer:
		return h.StartContainer
	case Poststart:
		return h.Poststart
	case Poststop:
		return h.Poststop
	}
	return nil
}

// Run runs the hooks of kind k in order, each with the state JSON on stdin.
// The first failure stops the run; its error names the kind and index, as
// the spec requires a failing hook to abort the operation.
func Run(h *specs.Hooks, k Kind, st *specs.State) error {
	list := List(h, k)
	if len(list) == 0 {
		return nil
	}
	in, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("encode state for %s hooks: %w", k, err)
	}
	for i, hk := range list {
		if err := runOne(hk, in); err != nil {
			return fmt.Errorf("%s hook #%d (%s): %w", k, i, hk.Path, err)
		}
	}
	return nil
}

// RunAll runs every hook of kind k even when some fail, and returns all
// failures joined. For poststart and poststop, where the spec says a
// failure is only logged and the rest still run.
func RunAll(h *specs.Hooks, k Kind, st *specs.State) error {
	list := List(h, k)
	if len(list) == 0 {
		return nil
	}
	in, err := json.Marshal(st)
	if err != nil {
		return err
	}
	var errs []error
	for i, hk := range list {
		if err := runOne(hk, in); err != nil {
			errs = append(errs, fmt.Errorf("%s hook #%d (%s): %w", k, i, hk.Path, err))
		}
	}
	return errors.Join(errs...)
}

func runOne(hk specs.Hook, stdin []byte) error {
	ctx := context.Background()
	if hk.Timeout != nil {
		if *hk.Timeout <= 0 {
			return fmt.Errorf("timeout must be positive, got %d", *hk.Timeout)
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(*hk.Timeout)*time.Second)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, hk.Path)
	// args[0] is the hook's argv[0], as in execv(3); an empty args gives path.
	if len(hk.Args) > 0 {
		cmd.Args = hk.Args
	}
	cmd.Env = hk.Env
	if cmd.Env == nil {
		cmd.Env = []string{}
	}
	cmd.Stdin = bytes.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	cmd.WaitDelay = time.Second // a hook's orphaned children must not hold us
	err := cmd.Run()
	if ctx.Err() == context.DeadlineExceeded {
		return fmt.Errorf("timed out after %ds", *hk.Timeout)
	}
	if err != nil {
		if msg := strings.TrimSpace(out.String()); msg != "" {
			return fmt.Errorf("%w: %s", err, truncate(msg, 512))
		}
		return err
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

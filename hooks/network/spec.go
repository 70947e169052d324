package network

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// HookArgs are the argv of the setup and teardown hooks. argv[0] is
// "gocker" because runtime-spec config.md "POSIX-platform Hooks" says args
// has the same semantics as IEEE Std 1003.1-2008 execv's argv.
func HookArgs(verb string) []string { return []string{"gocker", "hook", "network", verb} }

// AddToSpec wires the network hook into s: setup in createRuntime (runs in
// the runtime namespace after the container's namespaces exist, which is
// when /proc/<pid>/ns/net is usable), teardown in poststop, the settings of
// cfg as annotations, and a new network namespace if s has none. Calling it
// twice replaces the earlier entries.
func AddToSpec(s *specs.Spec, gockerBinary string, cfg Config) error {
	if !filepath.IsAbs(gockerBinary) {
		// runtime-spec: hook path MUST be absolute.
		return fmt.Errorf("network hook: binary path %q is not absolute", gockerBinary)
	}
	if cfg.Bridge == "" {
		cfg.Bridge = DefaultBridge
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	if s.Hooks == nil {
		s.Hooks = &specs.Hooks{}
	}
	s.Hooks.CreateRuntime = append(withoutOurs(s.Hooks.CreateRuntime),
		specs.Hook{Path: gockerBinary, Args: HookArgs("setup")})
	s.Hooks.Poststop = append(withoutOurs(s.Hooks.Poststop),
		specs.Hook{Path: gockerBinary, Args: HookArgs("teardown")})
	if s.Annotations == nil {
		s.Annotations = map[string]string{}
	}
	for k, v := range cfg.Annotations() {
		s.Annotations[k] = v
	}
	ensureNetNamespace(s)
	return nil
}

func withoutOurs(hooks []specs.Hook) []specs.Hook {
	return slices.DeleteFunc(slices.Clone(hooks), func(h specs.Hook) bool {
		return len(h.Args) >= 3 && h.Args[1] == "hook" && h.Args[2] == "network"
	})
}

// ensureNetNamespace adds a fresh network namespace: the hook refuses to
// configure the host's own namespace.
func ensureNetNamespace(s *specs.Spec) {
	if s.Linux == nil {
		s.Linux = &specs.Linux{}
	}
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == specs.NetworkNamespace {
			return
		}
	}
	s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.NetworkNamespace})
}

// ReadState decodes the container state a runtime writes to a hook's stdin
// (runtime-spec runtime.md "State"; config.md "Hooks": the state MUST be
// passed on stdin).
func ReadState(r io.Reader) (specs.State, error) {
	var st specs.State
	if err := json.NewDecoder(r).Decode(&st); err != nil {
		return st, fmt.Errorf("network hook: reading container state from stdin: %w", err)
	}
	if st.ID == "" {
		return st, fmt.Errorf("network hook: container state on stdin has no id")
	}
	return st, nil
}

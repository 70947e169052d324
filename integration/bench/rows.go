package main

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// scenario is what one timed sample does with a bundle.
type scenario int

const (
	// scenarioRun is "RUNTIME run": create, start, wait and delete in one
	// process, the path containerd-less users (and `make run`) take.
	scenarioRun scenario = iota
	// scenarioLifecycle is create + start + poll state until stopped +
	// delete, each a separate runtime process: the path a shim drives.
	scenarioLifecycle
)

func (s scenario) String() string {
	if s == scenarioRun {
		return "run"
	}
	return "create+start+wait+delete"
}

// row is one line of the result table: a name, a scenario and a config
// modifier applied to a copy of the busybox bundle's config.json. Later
// issues add rows here (resource limits, the network hook, a seccomp
// profile) without touching the measuring code.
type row struct {
	name     string
	scenario scenario
	modify   func(*specs.Spec)
}

// trueProcess makes the container run /bin/true without a terminal, so the
// sample measures the runtime, not the workload.
func trueProcess(s *specs.Spec) {
	s.Process.Args = []string{"/bin/true"}
	s.Process.Terminal = false
}

func rows() []row {
	return []row{
		{name: "run /bin/true", scenario: scenarioRun, modify: trueProcess},
		{name: "create+start+wait+delete /bin/true", scenario: scenarioLifecycle, modify: trueProcess},
	}
}

package hooks

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func sh(script string) specs.Hook {
	return specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", script}}
}

func TestRunPassesStateArgsEnv(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	hk := sh(`cat > "$1"; echo >> "$1"; echo "$FOO" >> "$1"`)
	hk.Args = append(hk.Args, "argv0", out)
	hk.Env = []string{"FOO=bar"}
	st := &specs.State{Version: specs.Version, ID: "c1", Status: specs.StateCreating, Pid: 123, Bundle: "/b"}
	if err := Run(&specs.Hooks{CreateRuntime: []specs.Hook{hk}}, CreateRuntime, st); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(out)
	lines := strings.SplitN(string(data), "\n", 2)
	var got specs.State
	if err := json.Unmarshal([]byte(lines[0]), &got); err != nil {
		t.Fatalf("hook stdin is not state JSON: %q", data)
	}
	if got.ID != "c1" || got.Pid != 123 || got.Status != specs.StateCreating {
		t.Fatalf("state = %+v", got)
	}
	if strings.TrimSpace(lines[1]) != "bar" {
		t.Fatalf("env not passed: %q", lines[1])
	}
}

func TestRunStopsAtFirstFailureAndNamesIt(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "m")
	h := &specs.Hooks{Prestart: []specs.Hook{sh("true"), sh("echo boom >&2; exit 3"), sh("touch " + marker)}}
	err := Run(h, Prestart, &specs.State{})
	if err == nil || !strings.Contains(err.Error(), "prestart hook #1") || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("err = %v", err)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("hook after the failing one ran")
	}
}

func TestRunAllContinues(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "m")
	h := &specs.Hooks{Poststop: []specs.Hook{sh("exit 1"), sh("touch " + marker)}}
	if err := RunAll(h, Poststop, &specs.State{}); err == nil || !strings.Contains(err.Error(), "poststop hook #0") {
		t.Fatalf("err = %v", err)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Fatal("later poststop hook did not run")
	}
}

func TestTimeout(t *testing.T) {
	one := 1
	hk := sh("sleep 30")
	hk.Timeout = &one
	err := Run(&specs.Hooks{Poststart: []specs.Hook{hk}}, Poststart, &specs.State{})
	if err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Fatalf("err = %v", err)
	}
}

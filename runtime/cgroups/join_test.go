package cgroups

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestAddPid(t *testing.T) {
	requireV1(t)
	id := testID(t)
	m := newManager(t, id, "", nil, Options{})
	first := sleeperIn(t, m)
	// A manager built later by another command, as exec does.
	later, err := New(id, "", nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	second := startShell(t, "exec sleep 1000")
	if err := later.AddPid(second.pid(), nil); err != nil {
		t.Fatal(err)
	}
	for ctrl, dir := range m.Paths() {
		procs, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
		if err != nil {
			t.Fatal(err)
		}
		if !hasLine(string(procs), strconv.Itoa(second.pid())) {
			t.Errorf("hierarchy %q: %d not in %s/cgroup.procs", ctrl, second.pid(), dir)
		}
	}
	// A sub-cgroup in one controller only; the others keep the container's.
	memDir := m.Paths()["memory"]
	if memDir == "" {
		t.Skip("no memory hierarchy")
	}
	subDir := filepath.Join(memDir, "sub")
	if err := os.Mkdir(subDir, 0o755); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(subDir)
	third := startShell(t, "exec sleep 1000")
	if err := later.AddPid(third.pid(), map[string]string{"memory": "sub"}); err != nil {
		t.Fatal(err)
	}
	cg, _ := os.ReadFile("/proc/" + strconv.Itoa(third.pid()) + "/cgroup")
	if !strings.Contains(string(cg), ":memory:") || !strings.Contains(string(cg), id+"/sub\n") {
		t.Errorf("third process cgroups: %s, want memory in %s/sub", cg, id)
	}
	third.cmd.Process.Kill()
	<-third.done
	for _, bad := range []string{"../escape", "missing"} {
		if err := later.AddPid(first.pid(), map[string]string{"": bad}); err == nil {
			t.Errorf("AddPid with sub-cgroup %q succeeded", bad)
		}
	}
}

func hasLine(s, line string) bool {
	for _, l := range strings.Split(s, "\n") {
		if l == line {
			return true
		}
	}
	return false
}

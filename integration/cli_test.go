package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestList checks the three list formats runc-driving tools parse.
func TestList(t *testing.T) {
	e := newEnv(t)
	created, running := e.id("listc"), e.id("listr")
	e.create(created, e.bundle(created, nil))
	e.createStarted(running, nil)
	pidC, pidR := e.mustState(created).Pid, e.mustState(running).Pid

	{
		lines := strings.Split(squash(e.ok(e.rt("list")).stdout), "\n")
		header := "ID PID STATUS BUNDLE CREATED OWNER" // runc's, which gocker keeps
		if runtimeName == "crun" {
			header = "NAME PID STATUS BUNDLE PATH CREATED OWNER"
		}
		if len(lines) != 3 || lines[0] != header {
			t.Fatalf("list table: %q, want a header and two rows", lines)
		}
		for _, c := range []struct {
			id, status string
			pid        int
		}{{created, "created", pidC}, {running, "running", pidR}} {
			if !containsRow(lines[1:], c.id, c.pid, c.status) {
				t.Errorf("list table lacks row %s %d %s: %q", c.id, c.pid, c.status, lines)
			}
		}
	}
	{
		var list []struct {
			ID      string `json:"id"`
			Pid     int    `json:"pid"`
			Status  string `json:"status"`
			Bundle  string `json:"bundle"`
			Created string `json:"created"`
		}
		decodeJSON(t, e.ok(e.rt("list", "--format", "json")).stdout, &list)
		got := map[string]string{}
		for _, c := range list {
			got[c.ID] = c.Status
			if c.Bundle == "" || !filepath.IsAbs(c.Bundle) {
				t.Errorf("list json %s: bundle %q not absolute", c.ID, c.Bundle)
			}
			if _, err := time.Parse(time.RFC3339Nano, c.Created); err != nil {
				t.Errorf("list json %s: created %q: %v", c.ID, c.Created, err)
			}
		}
		if len(list) != 2 || got[created] != "created" || got[running] != "running" {
			t.Errorf("list json: %+v, want %s created and %s running", list, created, running)
		}
	}
	{
		ids := strings.Fields(e.ok(e.rt("list", "-q")).stdout)
		if len(ids) != 2 || indexOf(ids, created) < 0 || indexOf(ids, running) < 0 {
			t.Errorf("list -q: %q, want exactly %s and %s", ids, created, running)
		}
	}
}

func TestListEmpty(t *testing.T) {
	e := newEnv(t)
	var list []any
	out := strings.TrimSpace(e.ok(e.rt("list", "--format", "json")).stdout)
	// runc prints "null" for no containers; an empty array is as good.
	if out != "null" {
		decodeJSON(t, out, &list)
	}
	if len(list) != 0 {
		t.Errorf("list of an empty root: %q", out)
	}
	if q := strings.TrimSpace(e.ok(e.rt("list", "-q")).stdout); q != "" {
		t.Errorf("list -q of an empty root: %q", q)
	}
}

func containsRow(rows []string, id string, pid int, status string) bool {
	for _, r := range rows {
		f := strings.Fields(r)
		if len(f) >= 4 && f[0] == id && f[1] == strconv.Itoa(pid) && f[2] == status {
			return true
		}
	}
	return false
}

// TestSpecCommand: `spec` in an empty dir writes a config.json that create
// accepts as is, once a rootfs dir sits next to it.
func TestSpecCommand(t *testing.T) {
	e := newEnv(t)
	dir := filepath.Join(e.dir, "specdir")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	e.ok(e.rtOpts(opts{dir: dir}, "spec"))
	raw, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatalf("spec wrote no config.json: %v", err)
	}
	var s specs.Spec
	decodeJSON(t, string(raw), &s)
	if s.Version == "" || s.Process == nil || len(s.Process.Args) == 0 || s.Root == nil || s.Linux == nil {
		t.Fatalf("spec output lacks required parts: %s", raw)
	}
	if e.fails(e.rtOpts(opts{dir: dir}, "spec")).code == 0 {
		t.Errorf("second spec overwrote an existing config.json")
	}
	// runc refuses a symlinked rootfs, so copy the small busybox tree.
	if out, err := exec.Command("cp", "-a", sharedRootfs, filepath.Join(dir, s.Root.Path)).CombinedOutput(); err != nil {
		t.Fatalf("copy rootfs: %v: %s", err, out)
	}
	id := e.id("spec")
	args := []string{"create", "--bundle", dir}
	if s.Process.Terminal {
		args = append(args, "--console-socket", e.consoleSocket().path)
	}
	e.ok(e.rt(append(args, id)...))
	st := e.wantStatus(id, "created")
	if st.Bundle != dir {
		t.Errorf("state bundle %q, want %q", st.Bundle, dir)
	}
	e.ok(e.rt("delete", "--force", id))
	e.wantGone(id)
}

var (
	versionRe = regexp.MustCompile(`^(\S+) version (\S+)$`)
	specRe    = regexp.MustCompile(`(?m)^spec: (\d+\.\d+\.\d+\S*)$`)
)

// TestVersion: tools parse the first line and the spec line of --version.
func TestVersion(t *testing.T) {
	e := newEnv(t)
	r := e.ok(e.rt("--version"))
	first, _, _ := strings.Cut(r.stdout, "\n")
	m := versionRe.FindStringSubmatch(first)
	if m == nil {
		t.Fatalf("--version first line %q, want `<name> version X`", first)
	}
	if want := filepath.Base(runtimePath); m[1] != want {
		t.Errorf("--version name %q, want the binary's name %q", m[1], want)
	}
	if specRe.FindString(r.stdout) == "" {
		t.Errorf("--version lacks a `spec: X.Y.Z` line: %q", r.stdout)
	}
}

package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Every bad input must make create fail non-zero and leave no state dir, no
// cgroup and no process (checked at once, not eventually).

// specJSON renders the default spec for id (cgroupsPath /<cg>) as a generic
// JSON object so a test can corrupt one field.
func (e *env) specJSON(cg string, mod func(map[string]any)) string {
	e.t.Helper()
	s := defaultSpec()
	s.Linux.CgroupsPath = "/" + cg
	b, err := json.Marshal(s)
	if err != nil {
		e.t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		e.t.Fatal(err)
	}
	mod(m)
	b, err = json.MarshalIndent(m, "", "  ")
	if err != nil {
		e.t.Fatal(err)
	}
	return string(b)
}

// createMustFail runs create and checks the failure left nothing behind.
func (e *env) createMustFail(id, cg, bundle string) result {
	e.t.Helper()
	r := e.fails(e.rt("create", "--bundle", bundle, id))
	e.assertNoTraces(id, cg)
	if _, sr := e.state(id); sr.code == 0 {
		e.t.Errorf("state of %q succeeds after a failed create: %s", id, sr)
	}
	return r
}

var locRe = regexp.MustCompile(`config\.json:(\d+):(\d+)`)

func TestBadConfigMalformedJSON(t *testing.T) {
	e := newEnv(t)
	id := e.id("malformed")
	// The stray comma on line 3 is the first syntax error.
	bundle := e.rawBundle("{\n  \"ociVersion\": \"1.0.2\",\n  \"process\": {,\n    \"args\": [\"sh\"]\n  }\n}\n")
	r := e.createMustFail(id, id, bundle)
	if isGocker() {
		m := locRe.FindStringSubmatch(r.errText())
		if m == nil || m[1] != "3" {
			t.Errorf("gocker error should locate the syntax error as config.json:3:COL: %s", r)
		}
	}
}

func TestBadConfigWrongType(t *testing.T) {
	e := newEnv(t)
	if runtimeName == "crun" {
		t.Skip("crun 1.8 accepts a string where process.args needs an array")
	}
	id := e.id("wrongtype")
	bundle := e.rawBundle(e.specJSON(id, func(m map[string]any) {
		m["process"].(map[string]any)["args"] = "sh -c true" // must be an array
	}))
	r := e.createMustFail(id, id, bundle)
	if isGocker() {
		if !strings.Contains(r.errText(), "process.args") || locRe.FindString(r.errText()) == "" {
			t.Errorf("gocker error should name process.args and config.json:LINE:COL: %s", r)
		}
	}
}

// TestBadConfigMajorVersion: runtime-spec config.md says ociVersion is
// SemVer and a runtime supports a major version; 2.0.0 is not 1.x. runc 1.1
// does not check ociVersion at all, so gocker-only.
func TestBadConfigMajorVersion(t *testing.T) {
	e := newEnv(t)
	gockerOnly(t, "runc 1.1 accepts any ociVersion")
	id := e.id("v2")
	bundle := e.bundle(id, func(s *specs.Spec) { s.Version = "2.0.0" })
	r := e.createMustFail(id, id, bundle)
	e.wantErrText(r, "ociVersion")
}

func TestBadConfigMissingRootfs(t *testing.T) {
	e := newEnv(t)
	id := e.id("norootfs")
	bundle := e.bundle(id, func(s *specs.Spec) { s.Root.Path = filepath.Join(e.dir, "no-such-rootfs") })
	e.createMustFail(id, id, bundle)
	if _, err := os.Stat(filepath.Join(e.dir, "no-such-rootfs")); err == nil {
		t.Errorf("create made the missing rootfs dir")
	}
}

func TestBadConfigMissingFile(t *testing.T) {
	e := newEnv(t)
	id := e.id("noconfig")
	bundle := filepath.Join(e.dir, "empty-bundle")
	if err := os.Mkdir(bundle, 0o755); err != nil {
		t.Fatal(err)
	}
	e.createMustFail(id, id, bundle)
}

// TestIDCollision: a second create with a live ID fails and does not disturb
// the first container.
func TestIDCollision(t *testing.T) {
	e := newEnv(t)
	id := e.id("collide")
	e.create(id, e.bundle(id, nil))
	first := e.wantStatus(id, "created")
	other := e.bundle(id, func(s *specs.Spec) { s.Linux.CgroupsPath = "/" + e.cgroupName("gocker-test-cg2-"+randHex(4)) })
	r := e.fails(e.rt("create", "--bundle", other, id))
	e.wantErrText(r, "exist")
	st := e.wantStatus(id, "created")
	if st.Pid != first.Pid || st.Bundle != first.Bundle || !pidAlive(first.Pid) {
		t.Errorf("failed second create changed the container: before %+v after %+v", first, st)
	}
	if pids := pidsInCgroup(id); len(pids) != 1 || pids[0] != first.Pid {
		t.Errorf("cgroup %s holds %v, want only %d", id, pids, first.Pid)
	}
	e.ok(e.rt("start", id))
	e.wantStatus(id, "running")
}

// TestInvalidIDs: IDs that are empty or could escape --root are refused.
func TestInvalidIDs(t *testing.T) {
	for _, id := range []string{"", "../x", "a/b", "..", ".", "/abs"} {
		t.Run(strings.NewReplacer("/", "slash", ".", "dot").Replace(id)+"_", func(t *testing.T) {
			e := newEnv(t)
			if id == "/abs" && runtimeName == "crun" {
				t.Skip("crun 1.8 accepts \"/abs\" as a container ID")
			}
			cg := e.cgroupName(id)
			bundle := e.bundle(id, nil)
			r := e.fails(e.rt("create", "--bundle", bundle, id))
			e.assertNoTraces("", cg)
			for _, p := range []string{filepath.Join(e.dir, "x"), filepath.Join(e.root, "a"), "/abs"} {
				if _, err := os.Lstat(p); err == nil {
					t.Errorf("create of invalid id %q made %s: %s", id, p, r)
				}
			}
			if ents, _ := os.ReadDir(e.root); len(ents) != 0 {
				t.Errorf("create of invalid id %q left %d entries in --root", id, len(ents))
			}
		})
	}
}

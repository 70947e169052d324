package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ociState is the `state` output: the runtime-spec state plus the fields
// runc adds (rootfs, created, owner) that runc-driving tools read.
type ociState struct {
	OCIVersion  string            `json:"ociVersion"`
	ID          string            `json:"id"`
	Status      string            `json:"status"`
	Pid         int               `json:"pid"`
	Bundle      string            `json:"bundle"`
	Annotations map[string]string `json:"annotations"`
	Rootfs      string            `json:"rootfs"`
	Created     string            `json:"created"`
	Owner       string            `json:"owner"`

	raw map[string]json.RawMessage
}

// state runs `state id`; on success it parses the JSON and remembers the pid
// so cleanup can prove the process is gone.
func (e *env) state(id string) (ociState, result) {
	e.t.Helper()
	r := e.rt("state", id)
	var st ociState
	if r.code != 0 {
		return st, r
	}
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		e.t.Fatalf("state output is not JSON: %v: %s", err, r)
	}
	if err := json.Unmarshal([]byte(r.stdout), &st.raw); err != nil {
		e.t.Fatalf("state output is not a JSON object: %v: %s", err, r)
	}
	if st.Pid > 0 && st.Status != "stopped" {
		e.trackPid(st.Pid)
	}
	return st, r
}

func (e *env) mustState(id string) ociState {
	e.t.Helper()
	st, r := e.state(id)
	if r.code != 0 {
		e.t.Fatalf("state %s failed: %s", id, r)
	}
	return st
}

// wantStatus fails unless id's status is want.
func (e *env) wantStatus(id, want string) ociState {
	e.t.Helper()
	st := e.mustState(id)
	if st.Status != want {
		e.t.Fatalf("container %s: status %q, want %q (state %+v)", id, st.Status, want, st)
	}
	return st
}

// waitStatus polls state until the status is want.
func (e *env) waitStatus(id, want string, timeout time.Duration) ociState {
	e.t.Helper()
	var st ociState
	var r result
	if !waitFor(timeout, func() bool {
		st, r = e.state(id)
		return r.code == 0 && st.Status == want
	}) {
		e.t.Fatalf("container %s never reached %q: last status %q, last call %s", id, want, st.Status, r)
	}
	return st
}

// wantGone fails unless `state id` fails saying the container does not exist.
func (e *env) wantGone(id string) {
	e.t.Helper()
	_, r := e.state(id)
	if r.code == 0 {
		e.t.Fatalf("container %s still exists after delete: %s", id, r)
	}
	e.wantNotExist(r)
}

// wantNotExist checks the error of a verb on an unknown container. runc
// and gocker say "does not exist"; crun 1.8 only reports the ENOENT of its
// state file ("No such file or directory").
func (e *env) wantNotExist(r result) {
	e.t.Helper()
	text := strings.ToLower(r.errText())
	if strings.Contains(text, "does not exist") {
		return
	}
	if runtimeName == "crun" && strings.Contains(text, "no such file or directory") {
		return
	}
	e.t.Errorf("error output does not say the container does not exist: %s", r)
}

// create runs `create --bundle b id` with the container's stdio sent to a
// file in the test dir, whose path it returns.
func (e *env) create(id, bundle string, extra ...string) string {
	e.t.Helper()
	out, err := os.Create(filepath.Join(e.dir, id+".out"))
	if err != nil {
		e.t.Fatal(err)
	}
	defer out.Close()
	args := append([]string{"create", "--bundle", bundle}, extra...)
	e.ok(e.rtOpts(opts{stdout: out}, append(args, id)...))
	return out.Name()
}

// createStarted creates and starts a container and checks it is running.
func (e *env) createStarted(id string, mod func(*specs.Spec)) (ociState, string) {
	e.t.Helper()
	out := e.create(id, e.bundle(id, mod))
	e.ok(e.rt("start", id))
	st := e.mustState(id)
	if st.Status != "running" && st.Status != "stopped" {
		e.t.Fatalf("after start: status %q, want running", st.Status)
	}
	return st, out
}

// runScript runs `sh -c script` in the foreground with `run` and returns its
// stdout; a non-zero exit fails the test.
func (e *env) runScript(script string, mod func(*specs.Spec)) string {
	e.t.Helper()
	id := e.id("run")
	b := e.bundle(id, chain(sh(script), mod))
	r := e.rt("run", "--bundle", b, id)
	if r.code != 0 || r.err != nil {
		e.t.Fatalf("container script failed: %s\nscript: %s", r, script)
	}
	return r.stdout
}

// runLines is runScript split into trimmed lines.
func (e *env) runLines(script string, mod func(*specs.Spec)) []string {
	e.t.Helper()
	out := strings.TrimSpace(e.runScript(script, mod))
	if out == "" {
		return nil
	}
	lines := strings.Split(out, "\n")
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
	}
	return lines
}

package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestLifecycle walks the runtime-spec state machine: create → created,
// start → running, kill → stopped, delete → gone.
func TestLifecycle(t *testing.T) {
	e := newEnv(t)
	id := e.id("life")
	bundle := e.bundle(id, func(s *specs.Spec) {
		s.Annotations = map[string]string{"org.gocker.test": "lifecycle", "second": "2"}
	})
	before := time.Now()
	// No --bundle: the bundle defaults to the working directory, and state
	// must still report it as an absolute path (runtime-spec "State").
	e.ok(e.rtOpts(opts{dir: bundle}, "create", id))
	after := time.Now()

	st := e.wantStatus(id, "created")
	if st.Pid <= 0 || !pidAlive(st.Pid) {
		t.Fatalf("created container: pid %d is not a live process", st.Pid)
	}
	checkStateFields(t, st, id, bundle, before, after)

	e.ok(e.rt("start", id))
	if got := e.wantStatus(id, "running"); got.Pid != st.Pid {
		t.Errorf("pid changed across start: %d -> %d", st.Pid, got.Pid)
	}

	e.ok(e.rt("kill", id, "KILL"))
	e.waitStatus(id, "stopped", 10*time.Second)
	if !waitFor(5*time.Second, func() bool { return !pidAlive(st.Pid) }) {
		t.Errorf("stopped container's init %d still alive", st.Pid)
	}

	e.ok(e.rt("delete", id))
	e.wantGone(id)
}

func checkStateFields(t *testing.T, st ociState, id, bundle string, before, after time.Time) {
	t.Helper()
	for _, k := range []string{"ociVersion", "id", "status", "pid", "bundle", "rootfs", "created", "owner"} {
		if _, ok := st.raw[k]; !ok {
			t.Errorf("state JSON lacks %q: %v", k, st.raw)
		}
	}
	if st.OCIVersion == "" {
		t.Errorf("state ociVersion is empty")
	}
	if st.ID != id {
		t.Errorf("state id %q, want %q", st.ID, id)
	}
	if st.Bundle != bundle {
		t.Errorf("state bundle %q, want absolute %q", st.Bundle, bundle)
	}
	if st.Rootfs != sharedRootfs {
		t.Errorf("state rootfs %q, want %q", st.Rootfs, sharedRootfs)
	}
	want := map[string]string{"org.gocker.test": "lifecycle", "second": "2"}
	if len(st.Annotations) != len(want) || st.Annotations["org.gocker.test"] != "lifecycle" || st.Annotations["second"] != "2" {
		t.Errorf("state annotations %v, want %v", st.Annotations, want)
	}
	created, err := time.Parse(time.RFC3339Nano, st.Created)
	if err != nil {
		t.Errorf("state created %q is not RFC3339: %v", st.Created, err)
	} else if created.Before(before.Add(-time.Second)) || created.After(after.Add(time.Second)) {
		t.Errorf("state created %v is not within the create call [%v, %v]", created, before, after)
	}
}

// TestRunExitCodes checks that foreground run returns the container's exit
// status, and 128+signal when it is killed (the shell convention runc uses).
func TestRunExitCodes(t *testing.T) {
	t.Run("exit3", func(t *testing.T) {
		e := newEnv(t)
		id := e.id("exit3")
		r := e.rt("run", "--bundle", e.bundle(id, sh("exit 3")), id)
		if r.code != 3 {
			t.Fatalf("run of `exit 3`: want exit 3: %s", r)
		}
		e.wantGone(id)
	})
	t.Run("selfkill", func(t *testing.T) {
		e := newEnv(t)
		// Without a pid namespace: as pid 1 of its own namespace the shell
		// would be immune to its own SIGKILL (pid_namespaces(7)).
		id := e.id("kill9")
		r := e.rt("run", "--bundle", e.bundle(id, chain(sh("kill -9 $$; echo survived"), dropNS(specs.PIDNamespace))), id)
		if r.code != 137 {
			t.Fatalf("run of `kill -9 $$`: want exit 137: %s", r)
		}
	})
	t.Run("killedFromOutside", func(t *testing.T) {
		e := newEnv(t)
		id := e.id("killout")
		run := e.rtStart(opts{}, "run", "--bundle", e.bundle(id, nil), id)
		e.waitStatus(id, "running", 10*time.Second)
		e.ok(e.rt("kill", id, "KILL"))
		if r := run.wait(); r.code != 137 {
			t.Fatalf("run killed with SIGKILL: want exit 137: %s", r)
		}
	})
	// A foreground run passes the signals it gets on to the container's
	// process (runc's signal proxy) and exits with the code the process
	// chose. The shell prints "ready" once its traps are set.
	t.Run("forwardsSignals", func(t *testing.T) {
		e := newEnv(t)
		id := e.id("fwdsig")
		run := e.rtStart(opts{}, "run", "--bundle", e.bundle(id,
			sh(`trap 'echo got-usr1' USR1; trap 'echo got-term; exit 7' TERM; echo ready; while :; do sleep 0.05; done`)), id)
		out := e.outFileOf(run)
		e.waitFileContains(out, "ready", 10*time.Second)
		run.cmd.Process.Signal(syscall.SIGUSR1)
		e.waitFileContains(out, "got-usr1", 10*time.Second)
		run.cmd.Process.Signal(syscall.SIGTERM)
		r := run.wait()
		if r.code != 7 || !strings.Contains(r.stdout, "got-term") {
			t.Fatalf("run sent SIGUSR1 then SIGTERM: want got-usr1, got-term and exit 7: %s", r)
		}
		e.wantGone(id)
	})
	t.Run("detach", func(t *testing.T) {
		e := newEnv(t)
		id := e.id("detach")
		r := e.ok(e.rt("run", "-d", "--bundle", e.bundle(id, nil), id))
		if r.elapsed > 20*time.Second {
			t.Fatalf("run -d did not return while the container runs: %s", r)
		}
		st := e.wantStatus(id, "running")
		if !pidAlive(st.Pid) {
			t.Fatalf("run -d: pid %d not alive", st.Pid)
		}
		e.ok(e.rt("delete", "--force", id))
	})
	t.Run("pipes", func(t *testing.T) {
		e := newEnv(t)
		id := e.id("pipes")
		var out bytes.Buffer
		r := e.rtOpts(opts{stdin: strings.NewReader("hello through stdin\n"), stdout: &out},
			"run", "--bundle", e.bundle(id, sh("read line; echo \"got: $line\"; echo to-stderr >&2")), id)
		if r.code != 0 {
			t.Fatalf("run with pipes failed: %s", r)
		}
		if got := strings.TrimSpace(r.stdout); got != "got: hello through stdin" {
			t.Errorf("stdout through pipe %q, want %q", got, "got: hello through stdin")
		}
		if !strings.Contains(r.stderr, "to-stderr") {
			t.Errorf("container stderr not passed through: %s", r)
		}
	})
}

// TestKill checks signal spellings, the default signal, and errors.
func TestKill(t *testing.T) {
	for _, sig := range []string{"9", "KILL", "SIGKILL"} {
		t.Run("signal"+sig, func(t *testing.T) {
			e := newEnv(t)
			id := e.id("kill" + strings.ToLower(sig))
			st, _ := e.createStarted(id, nil)
			e.ok(e.rt("kill", id, sig))
			e.waitStatus(id, "stopped", 10*time.Second)
			if !waitFor(5*time.Second, func() bool { return !pidAlive(st.Pid) }) {
				t.Errorf("kill %s: pid %d still alive", sig, st.Pid)
			}
			e.ok(e.rt("delete", id))
		})
	}
	t.Run("defaultTERM", func(t *testing.T) {
		e := newEnv(t)
		// As pid 1 the shell only gets signals it handles, so the trap both
		// proves the signal is TERM and lets the container exit.
		id := e.id("term")
		script := `trap 'echo got-TERM; exit 7' TERM; echo ready; while :; do sleep 1 & wait $!; done`
		run := e.rtStart(opts{}, "run", "--bundle", e.bundle(id, sh(script)), id)
		out := e.outFileOf(run)
		e.waitFileContains(out, "ready", 10*time.Second)
		e.ok(e.rt("kill", id))
		r := run.wait()
		if r.code != 7 || !strings.Contains(r.stdout, "got-TERM") {
			t.Fatalf("kill without a signal: want the TERM trap to run and exit 7: %s", r)
		}
	})
	t.Run("stopped", func(t *testing.T) {
		e := newEnv(t)
		id := e.id("killstopped")
		e.createStarted(id, sh("exit 0"))
		e.waitStatus(id, "stopped", 10*time.Second)
		r := e.fails(e.rt("kill", id, "KILL"))
		if runtimeName == "crun" {
			e.wantErrText(r, "no such process") // crun 1.8 passes on ESRCH
		} else {
			e.wantErrText(r, "not running")
		}
		e.ok(e.rt("delete", id))
	})
	t.Run("unknown", func(t *testing.T) {
		e := newEnv(t)
		r := e.fails(e.rt("kill", "gocker-test-nosuch-"+randHex(4), "KILL"))
		e.wantNotExist(r)
	})
}

// outFileOf returns the path of the file receiving a running call's stdout.
func (e *env) outFileOf(r *running) string {
	e.t.Helper()
	if r.outF == nil {
		e.t.Fatal("call has no stdout file")
	}
	return r.outF.Name()
}

// TestDelete covers delete of running (refused without --force), forced
// delete, delete of created (runc kills the waiting init), and start twice.
func TestDelete(t *testing.T) {
	t.Run("runningNeedsForce", func(t *testing.T) {
		e := newEnv(t)
		id := e.id("delrun")
		st, _ := e.createStarted(id, nil)
		e.fails(e.rt("delete", id))
		if got := e.wantStatus(id, "running"); got.Pid != st.Pid || !pidAlive(st.Pid) {
			t.Fatalf("refused delete disturbed the container: %+v", got)
		}
		e.ok(e.rt("delete", "--force", id))
		e.wantGone(id)
		if !waitFor(5*time.Second, func() bool { return !pidAlive(st.Pid) }) {
			t.Errorf("delete --force: pid %d still alive", st.Pid)
		}
	})
	t.Run("created", func(t *testing.T) {
		e := newEnv(t)
		id := e.id("delcreated")
		e.create(id, e.bundle(id, nil))
		st := e.wantStatus(id, "created")
		e.ok(e.rt("delete", id))
		e.wantGone(id)
		if !waitFor(5*time.Second, func() bool { return !pidAlive(st.Pid) }) {
			t.Errorf("delete of created container: init %d still alive", st.Pid)
		}
	})
	t.Run("startTwice", func(t *testing.T) {
		e := newEnv(t)
		id := e.id("start2")
		st, _ := e.createStarted(id, nil)
		e.fails(e.rt("start", id))
		if got := e.wantStatus(id, "running"); got.Pid != st.Pid {
			t.Errorf("second start changed pid %d -> %d", st.Pid, got.Pid)
		}
	})
	t.Run("startStopped", func(t *testing.T) {
		e := newEnv(t)
		id := e.id("startstop")
		e.createStarted(id, sh("exit 0"))
		e.waitStatus(id, "stopped", 10*time.Second)
		e.fails(e.rt("start", id))
		e.wantStatus(id, "stopped")
	})
}

// TestCreateWithoutProcess: runtime-spec config.md makes `process` OPTIONAL
// and REQUIRED only when start is called. runc 1.1 rejects it at create
// ("process property must not be empty"), so this is gocker-only.
func TestCreateWithoutProcess(t *testing.T) {
	gockerOnly(t, "runc 1.1 rejects a config without process at create")
	e := newEnv(t)
	id := e.id("noproc")
	e.create(id, e.bundle(id, func(s *specs.Spec) { s.Process = nil }))
	e.wantStatus(id, "created")
	r := e.fails(e.rt("start", id))
	e.wantErrText(r, "process")
	e.ok(e.rt("delete", "--force", id))
	e.wantGone(id)
}

// decodeJSON decodes s into v or fails the test.
func decodeJSON(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("not valid JSON: %v: %q", err, s)
	}
}

// TestInitBinary: gocker runs a container's init from gocker-init, the
// init-only build beside it (cmd/gocker-init), through a sealed copy,
// never the file on disk (CVE-2019-5736).
func TestInitBinary(t *testing.T) {
	gockerOnly(t, "gocker-init is gocker's own split of its binary")
	e := newEnv(t)
	id := e.id("initbin")
	e.create(id, e.bundle(id, sh("exec sleep 1000")))
	st := e.mustState(id)
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", st.Pid))
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(exe) != "gocker-init" {
		t.Errorf("the created container's init runs %q, want gocker-init", exe)
	}
	if exe == runtimePath || exe == filepath.Join(filepath.Dir(runtimePath), "gocker-init") {
		t.Errorf("the init runs the host file %s itself, not a sealed copy", exe)
	}
	e.ok(e.rt("delete", "--force", id))
}

// TestInitBinaryMissing: a gocker without gocker-init beside it cannot
// start a container; create says what is missing and leaves nothing.
func TestInitBinaryMissing(t *testing.T) {
	gockerOnly(t, "gocker-init is gocker's own split of its binary")
	e := newEnv(t)
	id := e.id("noinit")
	bundle := e.bundle(id, sh("exit 0"))
	lone := filepath.Join(e.dir, "lone", "gocker")
	copyFile(t, runtimePath, lone, 0o755)
	out, err := exec.Command(lone, "--root", e.root, "create", "--bundle", bundle, id).CombinedOutput()
	if err == nil {
		e.rt("delete", "--force", id)
		t.Fatalf("create without gocker-init succeeded: %s", out)
	}
	if !strings.Contains(string(out), "gocker-init not found beside "+lone) {
		t.Errorf("create without gocker-init: want the missing binary named, got: %s", out)
	}
	e.assertNoTraces(id, e.cgroupName(id))
}

// copyFile copies src to dst (making dst's directory) with mode.
func copyFile(t *testing.T, src, dst string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, mode); err != nil {
		t.Fatal(err)
	}
}

package integration

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
)

// TestRootIsolation: every verb honours --root; two roots never see each
// other's containers, even with the same ID.
func TestRootIsolation(t *testing.T) {
	a := newEnv(t)
	b := newEnv(t)
	id := a.id("roots")
	b.mu.Lock()
	b.ids = append(b.ids, id) // b's cleanup deletes its own container of that name
	b.mu.Unlock()
	stA, _ := a.createStarted(id, nil)
	otherCg := "gocker-test-roots2-" + randHex(4)
	b.cgroupName(otherCg)
	stB, _ := b.createStarted(id, func(s *specs.Spec) { s.Linux.CgroupsPath = "/" + otherCg })
	// b.bundle registered the ID as a cgroup name of b's too; that cgroup
	// is a's, alive until a's cleanup, which runs after b's.
	b.mu.Lock()
	b.cgroups = slices.DeleteFunc(b.cgroups, func(c string) bool { return c == id })
	b.mu.Unlock()
	if stA.Pid == stB.Pid {
		t.Fatalf("both roots report pid %d", stA.Pid)
	}
	for _, e := range []*env{a, b} {
		var list []map[string]any
		decodeJSON(t, e.ok(e.rt("list", "--format", "json")).stdout, &list)
		if len(list) != 1 {
			t.Errorf("root %s lists %d containers, want its own one: %v", e.root, len(list), list)
		}
	}
	// Acting on the container in root b leaves root a's alone.
	b.ok(b.rt("kill", id, "KILL"))
	b.waitStatus(id, "stopped", 10*time.Second)
	if st := a.wantStatus(id, "running"); st.Pid != stA.Pid {
		t.Errorf("root a's container changed: %+v", st)
	}
	b.fails(b.rt("exec", id, "true"))
	a.ok(a.rt("exec", id, "true"))
	b.ok(b.rt("delete", id))
	b.wantGone(id)
	a.wantStatus(id, "running")
	// A third root knows nothing of either.
	c := newEnv(t)
	for _, verb := range [][]string{{"state", id}, {"start", id}, {"kill", id, "KILL"}, {"delete", id}, {"exec", id, "true"}} {
		r := c.fails(c.rt(verb...))
		c.wantNotExist(r)
	}
	a.wantStatus(id, "running")
}

// TestListenFDs: systemd socket activation reaches the container: the
// LISTEN_FDS fds (meant for the runtime: LISTEN_PID is its pid) become the
// container's fds from 3, with LISTEN_PID the container's own pid.
func TestListenFDs(t *testing.T) {
	crunDiffers(t, "crun 1.8 passes the LISTEN_FDS fds but does not set LISTEN_PID")
	e := newEnv(t)
	id := e.id("listenfds")
	data := filepath.Join(e.dir, "activation-data")
	e.writeFile(data, "socket-activated\n", 0o644)
	bundle := e.bundle(id, sh(`echo "$LISTEN_FDS $LISTEN_PID"; cat <&3`))
	args := []string{"--root", e.root, "--log", e.logFile, "--log-format", "json", "run", "--bundle", bundle, id}
	// The shell sets LISTEN_PID to its own pid and then becomes the runtime.
	cmd := exec.Command("/bin/sh", append([]string{"-c", `export LISTEN_PID=$$ LISTEN_FDS=1; exec "$@" 3<"$DATA"`, "sh", runtimePath}, args...)...)
	cmd.Env = append(os.Environ(), "DATA="+data)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("run with LISTEN_FDS: %v: %s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != "1 1\nsocket-activated" {
		t.Errorf("container saw %q, want LISTEN_FDS=1 LISTEN_PID=1 and the fd's data", got)
	}
}

// TestFeatures: `features` is runtime-spec features.md JSON.
func TestFeatures(t *testing.T) {
	crunDiffers(t, "crun 1.8.1 has no features command")
	e := newEnv(t)
	r := e.ok(e.rt("features"))
	var f features.Features
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		t.Fatalf("features output is not features.md JSON: %v: %s", err, r.stdout)
	}
	if f.OCIVersionMin == "" || f.OCIVersionMax == "" || f.Linux == nil || f.Linux.Seccomp == nil || f.Linux.Cgroup == nil {
		t.Fatalf("features lacks required parts: %s", r.stdout)
	}
	for _, h := range []string{"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"} {
		if !slices.Contains(f.Hooks, h) {
			t.Errorf("hooks %v lack %s", f.Hooks, h)
		}
	}
	for _, ns := range []string{"cgroup", "ipc", "mount", "network", "pid", "user", "uts"} {
		if !slices.Contains(f.Linux.Namespaces, ns) {
			t.Errorf("namespaces %v lack %s", f.Linux.Namespaces, ns)
		}
	}
	for _, o := range []string{"bind", "rbind", "ro", "nosuid", "rprivate"} {
		if !slices.Contains(f.MountOptions, o) {
			t.Errorf("mountOptions lack %s", o)
		}
	}
	if !slices.Contains(f.Linux.Capabilities, "CAP_SYS_ADMIN") || !slices.Contains(f.Linux.Seccomp.Actions, "SCMP_ACT_ERRNO") ||
		!slices.Contains(f.Linux.Seccomp.Archs, "SCMP_ARCH_X86_64") || !slices.Contains(f.Linux.Seccomp.Operators, "SCMP_CMP_MASKED_EQ") {
		t.Errorf("capabilities or seccomp lists incomplete: %s", r.stdout)
	}
	if isGocker() {
		// What this build really has: no LSMs, idmapped mounts, time
		// namespaces, and SCMP_ACT_NOTIFY with a listener.
		if *f.Linux.Apparmor.Enabled || *f.Linux.Selinux.Enabled || !*f.Linux.MountExtensions.IDMap.Enabled {
			t.Errorf("gocker's AppArmor, SELinux or idmap claims are wrong: %s", r.stdout)
		}
		if !slices.Contains(f.Linux.Namespaces, "time") || !slices.Contains(f.Linux.Seccomp.Actions, "SCMP_ACT_NOTIFY") {
			t.Errorf("gocker namespaces/actions wrong: %v %v", f.Linux.Namespaces, f.Linux.Seccomp.Actions)
		}
	}
}

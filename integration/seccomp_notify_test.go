package integration

import (
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// isMkdir reports whether nr is mkdir(2) or mkdirat(2) on this machine.
func isMkdir(nr int32) bool {
	return nr == unix.SYS_MKDIRAT || (goruntime.GOARCH == "amd64" && nr == 83)
}

// TestSeccompNotify: SCMP_ACT_NOTIFY sends the notify fd and the container
// process state to listenerPath; the agent then answers the container's
// mkdir with EXDEV, which the program sees. Both filter installation paths:
// with no_new_privs (installed last) and without (installed while the init
// still has CAP_SYS_ADMIN).
func TestSeccompNotify(t *testing.T) {
	for _, nnp := range []bool{true, false} {
		t.Run(fmt.Sprintf("noNewPrivileges=%v", nnp), func(t *testing.T) {
			e := newEnv(t)
			a := e.seccompAgent()
			id := e.id("notify")
			meta := "gocker-test-meta-" + id
			b := e.bundle(id, chain(sh("mkdir /gocker-notify-dir 2>&1; echo rc=$?"), func(s *specs.Spec) {
				s.Linux.Seccomp = notifyProfile(a.path, meta, "mkdir", "mkdirat")
				s.Process.NoNewPrivileges = nnp
			}))
			out := e.create(id, b)
			pid := e.mustState(id).Pid
			e.ok(e.rt("start", id))
			st := a.state(10 * time.Second)
			if len(st.Fds) != 1 || st.Fds[0] != specs.SeccompFdName {
				t.Errorf("fds %q, want [%q]", st.Fds, specs.SeccompFdName)
			}
			if st.Pid != pid || st.State.Pid != pid {
				t.Errorf("pid %d, state.pid %d, want the init's %d", st.Pid, st.State.Pid, pid)
			}
			if st.Metadata != meta {
				t.Errorf("metadata %q, want %q", st.Metadata, meta)
			}
			if st.State.ID != id || st.State.Bundle != b {
				t.Errorf("state id %q bundle %q, want %q %q", st.State.ID, st.State.Bundle, id, b)
			}
			n, err := a.next(10 * time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if !isMkdir(n.Nr) {
				t.Errorf("notified syscall %d, want mkdir or mkdirat", n.Nr)
			}
			if err := a.answer(n, unix.EXDEV, false); err != nil {
				t.Fatal(err)
			}
			e.waitStatus(id, "stopped", 10*time.Second)
			text, _ := os.ReadFile(out)
			if !strings.Contains(string(text), "rc=1") || !strings.Contains(strings.ToLower(string(text)), "cross-device") {
				t.Errorf("mkdir should fail with the agent's EXDEV; container output: %q", text)
			}
		})
	}
}

// TestSeccompNotifyContinue: the agent lets the syscall run
// (SECCOMP_USER_NOTIF_FLAG_CONTINUE) and the directory really appears.
func TestSeccompNotifyContinue(t *testing.T) {
	e := newEnv(t)
	a := e.seccompAgent()
	id := e.id("notifycont")
	b := e.bundle(id, chain(sh("mkdir /dev/shm/made && echo made"), func(s *specs.Spec) {
		s.Linux.Seccomp = notifyProfile(a.path, "", "mkdir", "mkdirat")
	}))
	out := e.create(id, b)
	e.ok(e.rt("start", id))
	a.state(10 * time.Second)
	n, err := a.next(10 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.answer(n, 0, true); err != nil {
		t.Fatal(err)
	}
	e.waitStatus(id, "stopped", 10*time.Second)
	if text, _ := os.ReadFile(out); strings.TrimSpace(string(text)) != "made" {
		t.Errorf("container output %q, want made", text)
	}
}

// TestSeccompListenerMissing: a listenerPath that does not exist fails
// create, leaving nothing behind.
func TestSeccompListenerMissing(t *testing.T) {
	e := newEnv(t)
	id := e.id("nolistener")
	missing := filepath.Join(e.dir, "no-such-agent.sock")
	b := e.bundle(id, func(s *specs.Spec) {
		s.Linux.Seccomp = notifyProfile(missing, "", "mkdir", "mkdirat")
	})
	r := e.createMustFail(id, id, b)
	e.wantErrText(r, "no such file")
	if isGocker() {
		e.wantErrText(r, "listenerPath")
	}
}

// TestSeccompListenerNotSocket: a listenerPath that is a regular file.
func TestSeccompListenerNotSocket(t *testing.T) {
	e := newEnv(t)
	id := e.id("listenerfile")
	p := filepath.Join(e.dir, "agent-file")
	e.writeFile(p, "", 0o644)
	b := e.bundle(id, func(s *specs.Spec) {
		s.Linux.Seccomp = notifyProfile(p, "", "mkdir", "mkdirat")
	})
	r := e.createMustFail(id, id, b)
	if isGocker() {
		e.wantErrText(r, "not a unix socket")
	}
}

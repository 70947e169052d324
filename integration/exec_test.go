package integration

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// withUserNS gives the container a user namespace mapping root to host
// uid/gid 100000 (the shared rootfs is world-readable, so that works).
func withUserNS(s *specs.Spec) {
	s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
	s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	// A cgroup v1 mount in a user namespace is beside the point here.
	s.Mounts = s.Mounts[:len(s.Mounts)-1]
}

// withMarker mounts a tmpfs that only the container's mount namespace has,
// and makes the init write a marker into it before it sleeps.
func withMarker(s *specs.Spec) {
	s.Mounts = append(s.Mounts, specs.Mount{Destination: mntTmpfs, Type: "tmpfs", Source: "tmpfs", Options: []string{"mode=755"}})
	s.Process.Args = []string{"sh", "-c", "echo in-container > " + mntTmpfs + "/marker; exec sleep 1000"}
}

// running starts a container and waits until its init has written the marker.
func (e *env) runningWithMarker(id string, mod func(*specs.Spec)) ociState {
	e.t.Helper()
	st, _ := e.createStarted(id, chain(mod, withMarker))
	e.waitExecOutput(id, "cat "+mntTmpfs+"/marker", "in-container")
	return st
}

func (e *env) waitExecOutput(id, script, want string) {
	e.t.Helper()
	var r result
	if !waitFor(10*time.Second, func() bool {
		r = e.rt("exec", id, "sh", "-c", script)
		return r.code == 0 && strings.TrimSpace(r.stdout) == want
	}) {
		e.t.Fatalf("exec %q never printed %q: %s", script, want, r)
	}
}

// nsOf reads the namespace links of a host pid.
func nsOf(t *testing.T, pid int, names []string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, n := range names {
		l, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, n))
		if err != nil {
			t.Fatal(err)
		}
		m[n] = l
	}
	return m
}

// TestExecUserAndMountNamespace: the exec'd process is in every namespace
// of the init, including the user and mount namespaces that Go cannot
// setns into: it sees the container's mounts, uid mapping and hostname.
func TestExecUserAndMountNamespace(t *testing.T) {
	e := newEnv(t)
	id := e.id("execuserns")
	st := e.runningWithMarker(id, chain(withUserNS, func(s *specs.Spec) {
		s.Hostname = "exec-host"
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.CgroupNamespace})
	}))
	names := []string{"user", "mnt", "pid", "net", "ipc", "uts", "cgroup"}
	script := `cat /proc/self/uid_map; id -u; hostname; cat ` + mntTmpfs + `/marker; echo pid=$$; ` + nsScript(names)
	r := e.ok(e.rt("exec", id, "sh", "-c", script))
	lines := strings.Split(squash(r.stdout), "\n")
	if len(lines) < 5 {
		t.Fatalf("exec output too short: %q", r.stdout)
	}
	if want := []string{"0 100000 65536", "0", "exec-host", "in-container"}; strings.Join(lines[:4], "|") != strings.Join(want, "|") {
		t.Errorf("exec sees %q, want %q", lines[:4], want)
	}
	if pid := strings.TrimPrefix(lines[4], "pid="); pid == "" || pid == "1" {
		t.Errorf("exec process pid in the container %q, want a pid other than the init's 1", pid)
	}
	got := nsLinks(lines[5:])
	want := nsOf(t, st.Pid, names)
	for _, n := range names {
		if got[n] != want[n] {
			t.Errorf("namespace %s: exec %q, init %q", n, got[n], want[n])
		}
		if got[n] == hostNS(t, n) {
			t.Errorf("namespace %s of the exec process is the host's", n)
		}
	}
	// Seen from the host, the exec'd process runs as the mapped uid and is
	// in the container's cgroup.
	r = e.ok(e.rt("exec", "-d", id, "sleep", "1000"))
	pids := pidsInCgroup(id)
	if len(pids) != 2 {
		t.Fatalf("cgroup %s holds %v, want the init and the exec'd sleep", id, pids)
	}
	for _, pid := range pids {
		if pid == st.Pid {
			continue
		}
		e.trackPid(pid)
		if u := procStatus(readProc(t, pid, "status"), "Uid")["Uid"]; u != "100000 100000 100000 100000" {
			t.Errorf("exec'd process %d host Uid %q, want 100000", pid, u)
		}
	}
}

// TestExecProcessAttributes: defaults come from the container's process,
// flags override them (runc exec semantics).
func TestExecProcessAttributes(t *testing.T) {
	crunDiffers(t, `crun 1.8's exec --env drops the config's PATH (sh: not found in $PATH)`)
	e := newEnv(t)
	id := e.id("execattr")
	st, _ := e.createStarted(id, func(s *specs.Spec) {
		s.Process.Env = append(s.Process.Env, "FROM_CONFIG=yes")
		s.Process.Cwd = "/tmp"
	})
	r := e.ok(e.rt("exec", "--env", "EXTRA=1", id, "sh", "-c", `echo "$FROM_CONFIG $EXTRA $(pwd)"; grep -E '^(CapEff|NoNewPrivs)' /proc/self/status`))
	out := squash(r.stdout)
	initStatus := procStatus(readProc(t, st.Pid, "status"), "CapEff", "NoNewPrivs")
	want := fmt.Sprintf("yes 1 /tmp\nCapEff: %s\nNoNewPrivs: %s", initStatus["CapEff"], initStatus["NoNewPrivs"])
	if out != want {
		t.Errorf("exec output %q, want %q", out, want)
	}
	r = e.ok(e.rt("exec", "--user", "1000:1001", "--additional-gids", "1002", "--cwd", "/", id, "sh", "-c", "id -u; id -g; id -G; pwd"))
	if got := squash(r.stdout); got != "1000\n1001\n1001 1002\n/" {
		t.Errorf("--user/--additional-gids/--cwd: got %q", got)
	}
	pf := filepath.Join(e.dir, "proc.json")
	e.writeFile(pf, `{"args":["sh","-c","echo $ONLY; id -u"],"env":["ONLY=file","PATH=/bin"],"cwd":"/","user":{"uid":7,"gid":7}}`, 0o644)
	r = e.ok(e.rt("exec", "--process", pf, id))
	if got := squash(r.stdout); got != "file\n7" {
		t.Errorf("--process: got %q, want \"file\\n7\"", got)
	}
}

// TestExecExitCodes: a foreground exec exits with the process's code,
// 128+N when signal N killed it; failures never stop the container.
func TestExecExitCodes(t *testing.T) {
	e := newEnv(t)
	id := e.id("execcode")
	st, _ := e.createStarted(id, nil)
	for _, c := range []struct {
		script string
		code   int
	}{{"exit 0", 0}, {"exit 3", 3}, {"exit 200", 200}, {"kill -TERM $$", 128 + 15}, {"kill -KILL $$", 128 + 9}} {
		r := e.rt("exec", id, "sh", "-c", c.script)
		if r.err != nil || r.code != c.code {
			t.Errorf("exec %q: exit %d, want %d: %s", c.script, r.code, c.code, r)
		}
	}
	r := e.fails(e.rt("exec", id, "/no/such/binary"))
	e.wantErrText(r, "no such file")
	if got := e.wantStatus(id, "running"); got.Pid != st.Pid {
		t.Errorf("container pid changed %d -> %d", st.Pid, got.Pid)
	}
}

// TestExecStdioPassThrough: without a tty the caller's fds are the
// process's fds (no copy in between), and pipes do not hang anything.
func TestExecStdioPassThrough(t *testing.T) {
	e := newEnv(t)
	id := e.id("execstdio")
	e.createStarted(id, nil)
	rd, wr, st := statPipe(t)
	defer rd.Close()
	var out bytes.Buffer
	done := make(chan struct{})
	go func() { out.ReadFrom(rd); close(done) }()
	r := e.rtOpts(opts{stdin: strings.NewReader("piped-in\n"), stdout: wr},
		"exec", id, "sh", "-c", "cat; readlink /proc/self/fd/1")
	wr.Close()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("stdout pipe still open after exec returned")
	}
	if r.code != 0 || r.err != nil {
		t.Fatalf("exec with pipes: %s", r)
	}
	checkPassThrough(t, out.String(), "piped-in", st.Ino)
}

// checkPassThrough checks the output of `cat; readlink /proc/self/fd/1`.
// gocker gives the process the caller's fds themselves; runc's foreground
// mode copies through pipes of its own (runc docs/terminals.md), so the
// fd identity is gocker-only.
func checkPassThrough(t *testing.T, out, input string, ino uint64) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || lines[0] != input {
		t.Fatalf("process output %q, want %q then its stdout link", out, input)
	}
	if want := fmt.Sprintf("pipe:[%d]", ino); isGocker() && lines[1] != want {
		t.Errorf("process stdout is %s, want the caller's pipe %s", lines[1], want)
	}
}

// TestExecDetachedPidFile: --detach returns at once; --pid-file holds the
// host pid of the exec'd process, which is in the container's cgroup.
func TestExecDetachedPidFile(t *testing.T) {
	e := newEnv(t)
	id := e.id("execdetach")
	st, _ := e.createStarted(id, nil)
	pf := filepath.Join(e.dir, "exec.pid")
	e.ok(e.rt("exec", "--detach", "--pid-file", pf, id, "sleep", "1000"))
	b, err := os.ReadFile(pf)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || !pidAlive(pid) {
		t.Fatalf("pid file %q: not a live pid", b)
	}
	e.trackPid(pid)
	if cmd := readProc(t, pid, "cmdline"); cmd != "sleep\x001000\x00" {
		t.Errorf("pid %d runs %q, want sleep 1000", pid, cmd)
	}
	if nsOf(t, pid, []string{"pid"})["pid"] != nsOf(t, st.Pid, []string{"pid"})["pid"] {
		t.Errorf("exec'd process is not in the container's pid namespace")
	}
	if pids := pidsInCgroup(id); len(pids) != 2 {
		t.Errorf("cgroup %s holds %v, want init %d and exec %d", id, pids, st.Pid, pid)
	}
}

// TestExecTTYConsoleSocket: exec -d -t sends the master of a new pty to
// the console socket; the process has it as its controlling terminal.
func TestExecTTYConsoleSocket(t *testing.T) {
	e := newEnv(t)
	id := e.id("exectty")
	e.createStarted(id, nil)
	cs := e.consoleSocket()
	e.ok(e.rt("exec", "--detach", "--tty", "--console-socket", cs.path, id,
		"sh", "-c", "tty; [ -t 0 ] && [ -t 1 ] && [ -t 2 ] && echo all-ttys"))
	master := cs.wait(t)
	out := strings.ReplaceAll(readAllPty(t, master, 20*time.Second), "\r\n", "\n")
	if !strings.Contains(out, "/dev/pts/") || !strings.Contains(out, "all-ttys\n") {
		t.Errorf("exec pty output %q lacks the tty name or all-ttys", out)
	}
	e.wantStatus(id, "running")
}

// TestExecBadInput: each bad input fails, leaves no process behind and
// does not disturb the container.
func TestExecBadInput(t *testing.T) {
	e := newEnv(t)
	id := e.id("execbad")
	st, _ := e.createStarted(id, withUserNS)
	notSock := filepath.Join(e.dir, "not-a-socket")
	e.writeFile(notSock, "", 0o644)
	noArgs := filepath.Join(e.dir, "noargs.json")
	e.writeFile(noArgs, `{"cwd":"/","env":["PATH=/bin"]}`, 0o644)
	badUser := filepath.Join(e.dir, "baduser.json")
	e.writeFile(badUser, `{"args":["id"],"cwd":"/","user":{"uid":"nobody"}}`, 0o644)
	cases := []struct {
		name string
		args []string
		want string // error text, "" when runtimes word it differently
		crun string // how crun differs, if it does
	}{
		{"processMissingArgs", []string{"--process", noArgs, id}, "args", ""},
		{"processBadUser", []string{"--process", badUser, id}, "uid", `crun 1.8 accepts "uid": "nobody" in a --process file`},
		{"unmappedUser", []string{"--user", "70000", id, "id"}, "", ""},
		{"consoleSocketNotSocket", []string{"-d", "-t", "--console-socket", notSock, id, "sh"}, "", ""},
		{"ttyDetachedNoSocket", []string{"-d", "-t", id, "sh"}, "console socket", ""},
		{"pidFileMissingDir", []string{"-d", "--pid-file", filepath.Join(e.dir, "nodir", "x.pid"), id, "sleep", "1000"}, "",
			"crun 1.8 fails there but leaves the exec'd process running"},
		{"noCommand", []string{id}, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.crun != "" {
				crunDiffers(t, c.crun)
			}
			r := e.fails(e.rt(append([]string{"exec"}, c.args...)...))
			// crun 1.8 words these its own way: nothing at all for a
			// process without args, "tcgetattr: Inappropriate ioctl for
			// device" for -t without a console socket.
			if c.want != "" && runtimeName != "crun" {
				e.wantErrText(r, c.want)
			}
			if pids := pidsInCgroup(id); len(pids) != 1 || pids[0] != st.Pid {
				t.Errorf("after the failed exec cgroup %s holds %v, want only the init %d", id, pids, st.Pid)
			}
			if got := e.wantStatus(id, "running"); got.Pid != st.Pid {
				t.Errorf("container pid changed %d -> %d", st.Pid, got.Pid)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(e.dir, "nodir")); err == nil {
		t.Error("exec created the pid file's missing directory")
	}
}

// TestExecStopped: exec into a stopped container fails and says why.
func TestExecStopped(t *testing.T) {
	e := newEnv(t)
	id := e.id("execstopped")
	e.createStarted(id, sh("exit 0"))
	e.waitStatus(id, "stopped", 10*time.Second)
	r := e.fails(e.rt("exec", id, "true"))
	e.wantErrText(r, "stopped")
	e.wantStatus(id, "stopped")
	r = e.fails(e.rt("exec", "gocker-test-nosuch-"+randHex(4), "true"))
	e.wantNotExist(r)
}

// TestExecPaused: exec into a paused container is refused unless
// --ignore-paused; then the process runs once the container resumes.
func TestExecPaused(t *testing.T) {
	crunDiffers(t, "crun 1.8 has no exec --ignore-paused")
	e := newEnv(t)
	id := e.id("execpaused")
	e.createStarted(id, nil)
	if r := e.rt("pause", id); r.code != 0 {
		t.Skipf("pause is not available: %s", r)
	}
	e.wantStatus(id, "paused")
	r := e.fails(e.rt("exec", id, "true"))
	e.wantErrText(r, "paused")
	pf := filepath.Join(e.dir, "p.pid")
	done := e.rtStart(opts{}, "exec", "--ignore-paused", "-d", "--pid-file", pf, id, "sleep", "1000")
	e.ok(e.rt("resume", id))
	e.ok(done.wait())
	e.wantStatus(id, "running")
	b, _ := os.ReadFile(pf)
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if pid <= 0 || !pidAlive(pid) {
		t.Fatalf("--ignore-paused exec: pid file %q is not a live process", b)
	}
	e.trackPid(pid)
}

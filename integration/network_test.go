package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The network hook is gocker's own binary, so these tests need it even when
// another runtime is under test: the runtime only has to run the hooks
// where runtime-spec puts them (createRuntime with the real pid, poststop).
func gockerHookBinary(t *testing.T) string {
	t.Helper()
	b := os.Getenv("GOCKER_TEST_BINARY")
	if b == "" {
		t.Skip("GOCKER_TEST_BINARY not set: the network hook is gocker's binary")
	}
	// The hook lives in gocker-network (gocker forwards to it).
	if n := filepath.Join(filepath.Dir(b), "gocker-network"); isFile(n) {
		return n
	}
	return b
}

type testNet struct {
	bin, state, bridge, subnet, gateway string
}

func newTestNet(t *testing.T, e *env) *testNet {
	hex := randHex(2)
	n := &testNet{
		bin: gockerHookBinary(t), state: filepath.Join(e.dir, "netstate"),
		bridge: "gktest" + hex,
		// 10.231.X.0/24: a test-only subnet, traffic stays on the bridge.
		subnet: fmt.Sprintf("10.231.%d.0/24", int(hex[0])),
	}
	n.gateway = strings.TrimSuffix(n.subnet, "0/24") + "1"
	t.Cleanup(func() {
		// Teardown of the last container removes the bridge; anything left
		// is a leak this test reports.
		if out, _ := exec.Command("ip", "link", "show", n.bridge).CombinedOutput(); !strings.Contains(string(out), "does not exist") {
			t.Errorf("bridge %s left behind: %s", n.bridge, out)
			exec.Command("ip", "link", "del", n.bridge).Run()
		}
		n.prune(t)
	})
	return n
}

func (n *testNet) prune(t *testing.T) {
	exec.Command(n.bin, "network", "prune", "--state-dir", n.state).Run()
}

// mod wires setup (createRuntime) and teardown (poststop) with our settings.
func (n *testNet) mod(s *specs.Spec) {
	hook := func(verb string) specs.Hook {
		return specs.Hook{Path: n.bin, Args: []string{"gocker", "hook", "network", verb,
			"--state-dir", n.state, "--bridge", n.bridge, "--subnet", n.subnet}}
	}
	if s.Hooks == nil {
		s.Hooks = &specs.Hooks{}
	}
	s.Hooks.CreateRuntime = append(s.Hooks.CreateRuntime, hook("setup"))
	s.Hooks.Poststop = append(s.Hooks.Poststop, hook("teardown"))
	// busybox ping opens a raw socket.
	c := s.Process.Capabilities
	c.Bounding = append(c.Bounding, "CAP_NET_RAW")
	c.Effective = append(c.Effective, "CAP_NET_RAW")
	c.Permitted = append(c.Permitted, "CAP_NET_RAW")
}

func (n *testNet) leases(t *testing.T) map[string]string {
	out, err := exec.Command(n.bin, "network", "ls", "--format", "json", "--state-dir", n.state).Output()
	if err != nil {
		t.Fatalf("network ls: %v", err)
	}
	var nets []struct {
		Leases []struct {
			ID string `json:"id"`
			IP string `json:"ip"`
		} `json:"leases"`
	}
	if err := json.Unmarshal(out, &nets); err != nil {
		t.Fatalf("network ls output %q: %v", out, err)
	}
	m := map[string]string{}
	for _, nw := range nets {
		for _, l := range nw.Leases {
			m[l.ID] = l.IP
		}
	}
	return m
}

// Two containers on the hook's bridge get different addresses and reach
// each other and the bridge; deleting them leaves no veth, lease or bridge.
func TestNetworkHookTwoContainers(t *testing.T) {
	e := newEnv(t)
	n := newTestNet(t, e)
	a := e.id("neta")
	e.createStarted(a, chain(sh("sleep 60"), n.mod))
	leases := n.leases(t)
	ipA := strings.Split(leases[a], "/")[0]
	if ipA == "" {
		t.Fatalf("no lease for %s after create: %v", a, leases)
	}
	b := e.id("netb")
	r := e.rt("run", "--bundle", e.bundle(b, chain(sh(fmt.Sprintf(
		"ip -4 -o addr show eth0; ping -c 1 -W 3 %s >/dev/null && echo peer-ok; ping -c 1 -W 3 %s >/dev/null && echo gw-ok",
		ipA, n.gateway)), n.mod)), b)
	if r.code != 0 {
		t.Fatalf("container b: %s", r)
	}
	if !strings.Contains(r.stdout, "peer-ok") || !strings.Contains(r.stdout, "gw-ok") {
		t.Fatalf("b could not reach a (%s) and the bridge (%s): %q", ipA, n.gateway, r.stdout)
	}
	if strings.Contains(r.stdout, " "+ipA+"/") {
		t.Fatalf("b got a's address %s: %q", ipA, r.stdout)
	}
	if _, ok := n.leases(t)[b]; ok {
		t.Errorf("lease of %s still held after run deleted it", b)
	}
	e.ok(e.rt("delete", "--force", a))
	if l := n.leases(t); len(l) != 0 {
		t.Errorf("leases left after deleting both containers: %v", l)
	}
	waitFor(5*time.Second, func() bool {
		out, _ := exec.Command("ip", "link", "show", n.bridge).CombinedOutput()
		return strings.Contains(string(out), "does not exist")
	})
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// TestNetworkForwarding: gocker hands `network` (and `hook network`) to
// gocker-network beside it, with the same arguments; without that binary
// it says what is missing.
func TestNetworkForwarding(t *testing.T) {
	gockerOnly(t, "gocker-network is gocker's own split of its binary")
	e := newEnv(t)
	out, err := exec.Command(runtimePath, "network", "ls", "--format", "json", "--state-dir", filepath.Join(e.dir, "st")).CombinedOutput()
	if err != nil {
		t.Fatalf("gocker network ls: %v: %s", err, out)
	}
	var nets []any
	if err := json.Unmarshal(out, &nets); err != nil || len(nets) != 0 {
		t.Errorf("gocker network ls on an empty state dir: %v: %q, want an empty JSON list", err, out)
	}
	// spec --network goes there too, and its hooks name gocker-network.
	dir := filepath.Join(e.dir, "specnet")
	os.Mkdir(dir, 0o755)
	if out, err := exec.Command(runtimePath, "spec", "--bundle", dir, "--network", "bridge").CombinedOutput(); err != nil {
		t.Fatalf("gocker spec --network bridge: %v: %s", err, out)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s specs.Spec
	decodeJSON(t, string(raw), &s)
	want := filepath.Join(filepath.Dir(runtimePath), "gocker-network")
	if s.Hooks == nil || len(s.Hooks.CreateRuntime) != 1 || s.Hooks.CreateRuntime[0].Path != want {
		t.Errorf("spec --network hooks: %+v, want createRuntime %s", s.Hooks, want)
	}
	lone := filepath.Join(e.dir, "lone", "gocker")
	copyFile(t, runtimePath, lone, 0o755)
	out, err = exec.Command(lone, "hook", "network", "setup").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "gocker-network not found beside "+lone) {
		t.Errorf("hook network without gocker-network: %v: %s, want the missing binary named", err, out)
	}
}

package network

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/vishvananda/netlink"
)

// hookModeEnv makes the test binary act as the hook process: it reads the
// OCI state on stdin and runs setup/teardown/prune like `gocker hook
// network`, so tests exercise real separate processes (parallel flock,
// SIGKILL, dropped privileges) without needing cmd/gocker to build.
const hookModeEnv = "GOCKER_NETWORK_TEST_HOOK"

func TestMain(m *testing.M) {
	if verb := os.Getenv(hookModeEnv); verb != "" {
		os.Exit(hookMain(verb, os.Args[len(os.Args)-1]))
	}
	os.Exit(m.Run())
}

// hookMain: the last argument is "key=value;key=value" flag settings.
func hookMain(verb, settings string) int {
	flags := map[string]string{}
	for _, kv := range strings.Split(settings, ";") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			flags[k] = v
		}
	}
	st, err := ReadState(os.Stdin)
	if err == nil {
		var cfg Config
		if cfg, err = Resolve(st.Annotations, flags); err == nil {
			if verb == "setup" {
				var l *Lease
				if l, err = Setup(st, cfg, ""); err == nil {
					fmt.Println(l.IP)
				}
			} else {
				err = Teardown(st, cfg, "")
			}
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
}

var nameSeq atomic.Int32

// testNet picks a bridge name containing "gktest" and a /24 that overlaps
// no host route, and a private state dir.
type testNet struct {
	bridge   string
	subnet   netip.Prefix
	stateDir string
}

func newTestNet(t *testing.T) testNet {
	t.Helper()
	requireRoot(t)
	n := nameSeq.Add(1)
	tn := testNet{
		bridge:   fmt.Sprintf("gktest%d_%d", os.Getpid()%1000, n),
		stateDir: t.TempDir(),
	}
	for third := 0; third < 256; third++ {
		p := netip.MustParsePrefix(fmt.Sprintf("10.%d.%d.0/24", 200+int(n)%50, third))
		if checkSubnetFree(p, tn.bridge) == nil {
			tn.subnet = p
			break
		}
	}
	if !tn.subnet.IsValid() {
		t.Fatal("no free test subnet")
	}
	t.Setenv(StateDirEnv, tn.stateDir)
	t.Cleanup(func() { tn.assertClean(t) })
	return tn
}

func (tn testNet) cfg(mod ...func(*Config)) Config {
	c := Config{Bridge: tn.bridge, Subnet: tn.subnet}
	for _, m := range mod {
		m(&c)
	}
	return c
}

// assertClean fails the test if anything of the network is left: bridge,
// veths, table, lease files. It runs as a t.Cleanup after the test's own
// teardown, and then force-removes leftovers so one failure does not leak
// onto the machine.
func (tn testNet) assertClean(t *testing.T) {
	t.Helper()
	var left []string
	if _, err := netlink.LinkByName(tn.bridge); err == nil {
		left = append(left, "bridge "+tn.bridge)
		netlink.LinkDel(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: tn.bridge}})
	}
	veths, _ := ourVeths()
	for name, owner := range veths {
		if owner[0] == tn.bridge {
			left = append(left, "veth "+name)
			deleteLink(name)
		}
	}
	tables, _ := ourTables()
	for _, br := range tables {
		if br == tn.bridge {
			left = append(left, "table "+tablePrefix+br)
			deleteTable(br)
		}
	}
	if _, err := os.Stat(filepath.Join(tn.stateDir, tn.bridge)); err == nil {
		left = append(left, "state "+filepath.Join(tn.stateDir, tn.bridge))
	}
	if len(left) > 0 {
		t.Errorf("left behind: %s", strings.Join(left, ", "))
	}
}

// ctr is a stand-in container: a sleep process in new namespaces.
type ctr struct {
	id  string
	cmd *exec.Cmd
}

func (c *ctr) pid() int { return c.cmd.Process.Pid }

func (c *ctr) state(bundle string) specs.State {
	return specs.State{Version: specs.Version, ID: c.id, Status: specs.StateCreated, Pid: c.pid(), Bundle: bundle}
}

func (c *ctr) kill() {
	if c.cmd.ProcessState == nil {
		c.cmd.Process.Kill()
		c.cmd.Wait()
	}
}

func newCtr(t *testing.T, id string, flags uintptr) *ctr {
	t.Helper()
	cmd := exec.Command("/bin/busybox", "sleep", "600")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: flags | syscall.CLONE_NEWNET}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting netns process: %v", err)
	}
	c := &ctr{id: id, cmd: cmd}
	t.Cleanup(c.kill)
	return c
}

// inNS runs a busybox applet inside c's network namespace.
func (c *ctr) inNS(args ...string) *exec.Cmd {
	full := append([]string{fmt.Sprintf("--net=/proc/%d/ns/net", c.pid()), "--", "/bin/busybox"}, args...)
	return exec.Command("nsenter", full...)
}

func (c *ctr) run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	out, err := c.inNS(args...).CombinedOutput()
	return string(out), err
}

// listen starts `nc -l` in c answering one connection with reply.
func (c *ctr) listen(t *testing.T, port int, reply string, udp bool) {
	t.Helper()
	args := []string{"nc", "-l", "-p", fmt.Sprint(port)}
	if udp {
		args = []string{"nc", "-u", "-l", "-p", fmt.Sprint(port)}
	}
	cmd := c.inNS(args...)
	cmd.Stdin = strings.NewReader(reply)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	// Wait until the socket exists in the namespace.
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		out, _ := c.run(t, "netstat", "-ln")
		if strings.Contains(out, fmt.Sprintf(":%d ", port)) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("nc did not start listening on %d", port)
}

// dial connects from the host namespace and returns what the server sent.
func dial(t *testing.T, addr string, port uint16) (string, error) {
	t.Helper()
	cmd := exec.Command("/bin/busybox", "nc", "-w", "3", addr, fmt.Sprint(port))
	cmd.Stdin = strings.NewReader("ping\n")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// hookProc runs the test binary in hook mode as a separate process.
func hookProc(t *testing.T, verb string, st specs.State, cfg Config) *exec.Cmd {
	t.Helper()
	b, _ := json.Marshal(st)
	settings := fmt.Sprintf("bridge=%s;subnet=%s", cfg.Bridge, cfg.Subnet)
	if len(cfg.Ports) > 0 {
		settings += ";ports=" + cfg.Annotations()[AnnotationPrefix+"ports"]
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$", settings)
	cmd.Env = append(os.Environ(), hookModeEnv+"="+verb)
	cmd.Stdin = bytes.NewReader(b)
	return cmd
}

func nftList(t *testing.T, bridge string) string {
	t.Helper()
	out, err := exec.Command("nft", "list", "table", "ip", tablePrefix+bridge).CombinedOutput()
	if err != nil {
		return ""
	}
	return string(out)
}

var _ = io.Discard

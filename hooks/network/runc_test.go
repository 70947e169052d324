package network

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

const runcPath = "/usr/sbin/runc"

// buildGocker builds cmd/gocker for the hook, so the test covers
// cmd/gocker/network.go too. The rest of the CLI is other work in
// progress: if it does not build, "" tells the caller to use this test
// binary in hook mode instead (same package code, without the CLI layer).
func buildGocker(t *testing.T) string {
	t.Helper()
	if os.Getenv("GKTEST_NOBUILD") != "" {
		return ""
	}
	bin := filepath.Join(t.TempDir(), "gocker-network")
	cmd := exec.Command("go", "build", "-tags", "gocker_network", "-o", bin, "github.com/gocker/gocker/cmd/gocker")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Logf("cmd/gocker does not build, hooks run the test binary: %v\n%s", err, out)
		return ""
	}
	return bin
}

// runcBundle writes a bundle whose process serves one nc connection and
// whose hooks are a build of gocker-network (`hook network`).
func runcBundle(t *testing.T, gocker string, tn testNet, cfg Config, prestart bool) string {
	t.Helper()
	dir := t.TempDir()
	rootfs := filepath.Join(dir, "rootfs")
	if out, err := exec.Command("../../bundles/mkrootfs.sh", rootfs).CombinedOutput(); err != nil {
		t.Skipf("mkrootfs: %v %s", err, out)
	}
	// /etc/hosts must exist as a bind target (see README.md, "Files").
	os.WriteFile(filepath.Join(rootfs, "etc/hosts"), []byte("# image's own\n"), 0o644)
	b, err := os.ReadFile("../../bundles/busybox/config.json")
	if err != nil {
		t.Fatal(err)
	}
	var s specs.Spec
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	s.Root.Path = "rootfs"
	s.Hostname = "gktest-host"
	s.Process.Args = []string{"/bin/sh", "-c", "exec nc -l -p 80 -e echo served-by-runc"}
	bin := gocker
	if bin == "" {
		bin = os.Args[0]
	}
	if err := AddToSpec(&s, bin, cfg); err != nil {
		t.Fatal(err)
	}
	// runc gives hooks only their own env (config.md "env").
	env := []string{StateDirEnv + "=" + tn.stateDir}
	for _, hs := range [][]specs.Hook{s.Hooks.CreateRuntime, s.Hooks.Poststop} {
		for i := range hs {
			hs[i].Env = env
			if gocker == "" { // test binary in hook mode; settings come from the annotations
				hs[i].Env = append(env, hookModeEnv+"="+hs[i].Args[3])
				hs[i].Args = []string{"network.test", "-test.run=^$", ""}
			}
		}
	}
	if prestart {
		s.Hooks.Prestart, s.Hooks.CreateRuntime = s.Hooks.CreateRuntime, nil //nolint:staticcheck // prestart must work too
	}
	out, _ := json.MarshalIndent(&s, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "config.json"), out, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// runc runs one runc verb. Output goes to a file, not a pipe: the container
// init inherits runc's stdio and would hold a pipe open forever.
func runc(t *testing.T, root string, args ...string) (string, error) {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "runc-out")
	if err != nil {
		return "", err
	}
	defer f.Close()
	cmd := exec.CommandContext(t.Context(), runcPath, append([]string{"--root", root}, args...)...)
	cmd.Stdout, cmd.Stderr = f, f
	err = cmd.Run()
	out, _ := os.ReadFile(f.Name())
	return string(out), err
}

func TestRuncWithNetworkHook(t *testing.T) {
	tn := newTestNet(t)
	if _, err := os.Stat(runcPath); err != nil {
		t.Skip("no runc")
	}
	gocker := buildGocker(t)
	root := t.TempDir()
	for i, prestart := range []bool{false, true} {
		t.Run(fmt.Sprintf("prestart=%v", prestart), func(t *testing.T) {
			port := uint16(18300 + i)
			cfg := tn.cfg(func(c *Config) {
				c.Ports = []PortMapping{{port, 80, "tcp"}}
				c.Hosts = FilesBind
			})
			bundle := runcBundle(t, gocker, tn, cfg, prestart)
			id := fmt.Sprintf("gktest-runc-%d", i)
			if out, err := runc(t, root, "create", "--bundle", bundle, id); err != nil {
				t.Fatalf("runc create: %v\n%s", err, out)
			}
			t.Cleanup(func() { runc(t, root, "delete", "--force", id) })
			nets, err := List("")
			if err != nil || len(nets) != 1 || len(nets[0].Leases) != 1 || nets[0].Leases[0].ID != id {
				t.Fatalf("leases after create: %v %+v", err, nets)
			}
			ip := nets[0].Leases[0].IP
			out, err := runc(t, root, "exec", id, "/bin/sh", "-c", "ip -4 addr show eth0; cat /etc/hosts")
			if err != nil || !strings.Contains(out, ip.String()+"/24") || !strings.Contains(out, ip.String()+"\tgktest-host") {
				t.Errorf("inside: %v\n%s", err, out)
			}
			if b, _ := os.ReadFile(filepath.Join(bundle, "rootfs/etc/hosts")); string(b) != "# image's own\n" {
				t.Errorf("bind mode modified the rootfs: %q", b)
			}
			if out, err := runc(t, root, "start", id); err != nil {
				t.Fatalf("runc start: %v\n%s", err, out)
			}
			waitListening(t, root, id, 80)
			got, err := dial(t, "127.0.0.1", port)
			if err != nil || !strings.Contains(got, "served-by-runc") {
				t.Errorf("published port: %q %v", got, err)
			}
			if out, err := runc(t, root, "delete", "--force", id); err != nil {
				t.Fatalf("runc delete: %v\n%s", err, out)
			}
			if left := tn.leftovers(t); len(left) > 0 {
				t.Errorf("after delete --force: %v", left)
			}
		})
	}
}

// waitListening polls until the container's nc has its socket, so the
// one-shot server is not raced by our connection.
func waitListening(t *testing.T, root, id string, port int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		out, _ := runc(t, root, "exec", id, "netstat", "-ln")
		if strings.Contains(out, fmt.Sprintf(":%d ", port)) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("container %s never listened on %d", id, port)
}

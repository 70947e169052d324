package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/google/nftables"
)

// The network hook rows' own network: a bridge name and a subnet no other
// test uses (hooks/network tests use gktest*, the default network is
// gocker0 on 10.87.0.0/24), so a leak is visibly the bench's.
const (
	benchBridge = "gkbench0"
	benchSubnet = "10.232.0.0/24"
)

// benchNetwork is the state of the network hook rows: a private state dir
// under the bench dir, and whether the bridge was free when the bench began.
type benchNetwork struct {
	gocker   string
	stateDir string
	busy     error // why the hook rows cannot run, found before any sample
}

func newBenchNetwork(gocker, dir string) *benchNetwork {
	n := &benchNetwork{gocker: gocker, stateDir: filepath.Join(dir, "netstate")}
	// The hook deletes the bridge with its last container; one that exists
	// before the first sample belongs to someone else (another bench) or is
	// a leak, and the bench must neither share it nor remove it.
	if _, err := os.Lstat("/sys/class/net/" + benchBridge); err == nil {
		n.busy = fmt.Errorf("bridge %s already exists (another bench running, or a leak: gocker network prune)", benchBridge)
	}
	return n
}

func (n *benchNetwork) usable() error { return n.busy }

// hookFlags are the arguments setup and teardown both get (arguments
// override annotations, hooks/network/README.md).
func (n *benchNetwork) hookFlags() []string {
	return []string{"--state-dir", n.stateDir, "--bridge", benchBridge, "--subnet", benchSubnet}
}

// cleanup runs after every container is deleted (their poststop teardown
// has run): `gocker network prune` removes anything a failed sample left,
// and anything it had to remove is reported, since teardown should have.
// Then nothing of the bench's network may remain on the host; the state
// dir itself goes with the bench dir.
func (n *benchNetwork) cleanup() error {
	if n == nil || n.gocker == "" || n.busy != nil {
		return nil
	}
	if _, err := os.Stat(n.stateDir); err != nil {
		return nil // no sample ever ran the hook
	}
	var errs []error
	out, err := exec.Command(n.gocker, "network", "prune", "--state-dir", n.stateDir).CombinedOutput()
	if err != nil {
		errs = append(errs, fmt.Errorf("gocker network prune: %w: %s", err, out))
	} else if s := strings.TrimSpace(string(out)); s != "" {
		fmt.Fprintf(os.Stderr, "bench: NOTE: teardown left these, prune removed them:\n%s\n", s)
	}
	if left := n.leftovers(); len(left) > 0 {
		errs = append(errs, fmt.Errorf("network leak after prune: %s", strings.Join(left, ", ")))
	}
	return errors.Join(errs...)
}

// leftovers lists the bench network's bridge, veths (alias
// "gocker:<bridge>:<id>", hooks/network/link.go) and nftables table.
func (n *benchNetwork) leftovers() []string {
	var left []string
	if _, err := os.Lstat("/sys/class/net/" + benchBridge); err == nil {
		left = append(left, "bridge "+benchBridge)
	}
	links, _ := os.ReadDir("/sys/class/net")
	for _, l := range links {
		alias, err := os.ReadFile(filepath.Join("/sys/class/net", l.Name(), "ifalias"))
		if err == nil && strings.HasPrefix(string(alias), "gocker:"+benchBridge+":") {
			left = append(left, "veth "+l.Name())
		}
	}
	conn, err := nftables.New()
	if err != nil {
		return append(left, fmt.Sprintf("(nftables check failed: %v)", err))
	}
	tables, err := conn.ListTablesOfFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return append(left, fmt.Sprintf("(nftables check failed: %v)", err))
	}
	for _, t := range tables {
		if t.Name == "gocker_"+benchBridge {
			left = append(left, "nft table ip "+t.Name)
		}
	}
	return left
}

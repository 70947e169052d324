package network

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// containerView reads eth0, lo and the routes inside c's namespace through
// a handle bound to it.
func containerView(t *testing.T, c *ctr) (eth netlink.Link, lo netlink.Link, addrs []netlink.Addr, routes []netlink.Route) {
	t.Helper()
	ns, err := netns.GetFromPath(fmt.Sprintf("/proc/%d/ns/net", c.pid()))
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if eth, err = h.LinkByName("eth0"); err != nil {
		t.Fatalf("container eth0: %v", err)
	}
	if lo, err = h.LinkByName("lo"); err != nil {
		t.Fatal(err)
	}
	addrs, _ = h.AddrList(eth, netlink.FAMILY_V4)
	routes, _ = h.RouteList(nil, netlink.FAMILY_V4)
	return eth, lo, addrs, routes
}

func mustSetup(t *testing.T, c *ctr, cfg Config) *Lease {
	t.Helper()
	l, err := Setup(c.state(t.TempDir()), cfg, "")
	if err != nil {
		t.Fatalf("setup %s: %v", c.id, err)
	}
	return l
}

func mustTeardown(t *testing.T, c *ctr, cfg Config) {
	t.Helper()
	if err := Teardown(c.state(""), cfg, ""); err != nil {
		t.Fatalf("teardown %s: %v", c.id, err)
	}
}

func TestTwoContainersReachEachOtherAndBridge(t *testing.T) {
	tn := newTestNet(t)
	cfg := tn.cfg(func(c *Config) { c.MTU = 1400 })
	a, b := newCtr(t, "gktest-a", 0), newCtr(t, "gktest-b", 0)
	la, lb := mustSetup(t, a, cfg), mustSetup(t, b, cfg)
	if la.IP == lb.IP || !tn.subnet.Contains(la.IP) || !tn.subnet.Contains(lb.IP) {
		t.Fatalf("leases %s and %s", la.IP, lb.IP)
	}
	gw := tn.subnet.Addr().Next()

	eth, lo, addrs, routes := containerView(t, a)
	if eth.Attrs().MTU != 1400 || eth.Attrs().OperState != netlink.OperUp {
		t.Errorf("eth0 mtu %d state %s", eth.Attrs().MTU, eth.Attrs().OperState)
	}
	if lo.Attrs().Flags&(1<<0) == 0 { // net.FlagUp
		t.Errorf("lo is down")
	}
	if len(addrs) != 1 || addrs[0].IPNet.String() != netip.PrefixFrom(la.IP, 24).String() {
		t.Errorf("eth0 addresses %v", addrs)
	}
	var def bool
	for _, r := range routes {
		if (r.Dst == nil || r.Dst.String() == "0.0.0.0/0") && r.Gw.String() == gw.String() {
			def = true
		}
	}
	if !def {
		t.Errorf("no default route via %s in %v", gw, routes)
	}

	// ping container -> container and container -> bridge.
	for _, dst := range []string{lb.IP.String(), gw.String()} {
		if out, err := a.run(t, "ping", "-c", "1", "-W", "2", dst); err != nil {
			t.Errorf("ping %s from a: %v\n%s", dst, err, out)
		}
	}
	// nc echo: b listens, a connects; the host (bridge address) connects to a.
	b.listen(t, 7000, "from-b\n", false)
	if out, err := a.run(t, "nc", "-w", "3", lb.IP.String(), "7000"); err != nil || !strings.Contains(out, "from-b") {
		t.Errorf("a -> b:7000: %q %v", out, err)
	}
	a.listen(t, 7001, "from-a\n", false)
	if out, err := dial(t, la.IP.String(), 7001); err != nil || !strings.Contains(out, "from-a") {
		t.Errorf("host -> a:7001: %q %v", out, err)
	}

	// The host veths are attached to the bridge and carry our alias.
	br, err := netlink.LinkByName(tn.bridge)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []*Lease{la, lb} {
		hv, err := netlink.LinkByName(l.HostVeth)
		if err != nil || hv.Attrs().MasterIndex != br.Attrs().Index {
			t.Errorf("host veth %s: %v (master %v)", l.HostVeth, err, hv)
		}
	}
	for _, key := range []string{"forwarding", "route_localnet"} {
		b, _ := os.ReadFile(filepath.Join("/proc/sys/net/ipv4/conf", tn.bridge, key))
		if strings.TrimSpace(string(b)) != "1" {
			t.Errorf("%s on bridge = %q", key, b)
		}
	}

	mustTeardown(t, a, cfg)
	if _, err := netlink.LinkByName(la.HostVeth); err == nil {
		t.Errorf("veth %s still there after teardown", la.HostVeth)
	}
	if _, err := netlink.LinkByName(tn.bridge); err != nil {
		t.Errorf("bridge gone while b still uses it: %v", err)
	}
	mustTeardown(t, b, cfg)
	mustTeardown(t, b, cfg) // twice is fine
	mustTeardown(t, a, cfg)
}

func TestParallelSetupsGetUniqueLeases(t *testing.T) {
	tn := newTestNet(t)
	cfg := tn.cfg()
	const n = 20
	ctrs := make([]*ctr, n)
	for i := range ctrs {
		ctrs[i] = newCtr(t, fmt.Sprintf("gktest-par-%02d", i), 0)
	}
	outs := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, c := range ctrs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := hookProc(t, "setup", c.state(""), cfg)
			out, err := cmd.Output()
			outs[i], errs[i] = strings.TrimSpace(string(out)), err
		}()
	}
	wg.Wait()
	seen := map[string]string{}
	for i, ip := range outs {
		if errs[i] != nil {
			t.Fatalf("setup %d: %v", i, errs[i])
		}
		if other, dup := seen[ip]; dup {
			t.Errorf("%s leased to %s and %s", ip, other, ctrs[i].id)
		}
		seen[ip] = ctrs[i].id
	}
	nets, err := List("")
	if err != nil || len(nets) != 1 || len(nets[0].Leases) != n {
		t.Fatalf("list: %v %+v", err, nets)
	}
	for _, l := range nets[0].Leases {
		if !l.Alive || seen[l.IP.String()] != l.ID {
			t.Errorf("lease %+v does not match hook output", l)
		}
	}
	br, _ := netlink.LinkByName(tn.bridge)
	if got := countPorts(t, br); got != n {
		t.Errorf("bridge has %d ports, want %d", got, n)
	}
	for _, c := range ctrs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if out, err := hookProc(t, "teardown", c.state(""), cfg).CombinedOutput(); err != nil {
				t.Errorf("teardown %s: %v %s", c.id, err, out)
			}
		}()
	}
	wg.Wait()
	if got := countPorts(t, br); got != 0 {
		t.Errorf("%d bridge ports left", got)
	}
}

func countPorts(t *testing.T, br netlink.Link) int {
	t.Helper()
	if br == nil {
		return 0
	}
	links, err := netlink.LinkList()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, l := range links {
		if l.Attrs().MasterIndex == br.Attrs().Index {
			n++
		}
	}
	return n
}

func TestPublishedPortFromHost(t *testing.T) {
	tn := newTestNet(t)
	const hostPort = 18080
	cfg := tn.cfg(func(c *Config) {
		c.Ports = []PortMapping{{hostPort, 80, "tcp"}, {18053, 53, "udp"}}
	})
	c := newCtr(t, "gktest-pub", 0)
	l := mustSetup(t, c, cfg)
	gw := tn.subnet.Addr().Next().String()

	// NAT verified by reading the rules back, never by outside traffic.
	rules := nftList(t, tn.bridge)
	for _, want := range []string{
		fmt.Sprintf("ip saddr %s ip daddr != %s masquerade", tn.subnet, tn.subnet),
		fmt.Sprintf("tcp dport %d dnat to %s:80", hostPort, l.IP),
		fmt.Sprintf("udp dport 18053 dnat to %s:53", l.IP),
		fmt.Sprintf("oifname \"%s\" ct status dnat ip saddr 127.0.0.0/8 masquerade", tn.bridge),
		fmt.Sprintf("iifname \"%s\" ip daddr 127.0.0.0/8 drop", tn.bridge),
		"fib daddr type local",
	} {
		if !strings.Contains(rules, want) {
			t.Errorf("rule %q missing in\n%s", want, rules)
		}
	}
	if got := strings.Count(rules, "dnat to"); got != 4 { // 2 ports x (prerouting + output)
		t.Errorf("%d dnat rules, want 4", got)
	}

	for _, addr := range []string{"127.0.0.1", gw} {
		c.listen(t, 80, "hello-"+addr+"\n", false)
		out, err := dial(t, addr, hostPort)
		if err != nil || !strings.Contains(out, "hello-"+addr) {
			t.Errorf("host -> %s:%d: %q %v", addr, hostPort, out, err)
		}
	}

	mustTeardown(t, c, cfg)
	if nftList(t, tn.bridge) != "" {
		t.Errorf("table still there after the last container")
	}
	c.listen(t, 80, "after\n", false)
	if out, err := dial(t, "127.0.0.1", hostPort); err == nil && strings.Contains(out, "after") {
		t.Errorf("port still published after teardown")
	}
}

func TestPortRulesRemovedPerContainer(t *testing.T) {
	tn := newTestNet(t)
	a, b := newCtr(t, "gktest-pa", 0), newCtr(t, "gktest-pb", 0)
	cfgA := tn.cfg(func(c *Config) { c.Ports = []PortMapping{{18081, 80, "tcp"}} })
	cfgB := tn.cfg(func(c *Config) { c.Ports = []PortMapping{{18082, 80, "tcp"}} })
	mustSetup(t, a, cfgA)
	mustSetup(t, b, cfgB)
	mustTeardown(t, a, cfgA)
	rules := nftList(t, tn.bridge)
	if strings.Contains(rules, "18081") || !strings.Contains(rules, "18082") || !strings.Contains(rules, "masquerade") {
		t.Errorf("after a's teardown:\n%s", rules)
	}
	mustTeardown(t, b, cfgB)
}

func TestPortAlreadyPublished(t *testing.T) {
	tn := newTestNet(t)
	cfg := tn.cfg(func(c *Config) { c.Ports = []PortMapping{{18090, 80, "tcp"}} })
	a, b := newCtr(t, "gktest-p1", 0), newCtr(t, "gktest-p2", 0)
	mustSetup(t, a, cfg)
	_, err := Setup(b.state(""), cfg, "")
	if err == nil || !strings.Contains(err.Error(), "18090/tcp is already published by container gktest-p1") {
		t.Fatalf("second publish: %v", err)
	}
	assertNoVeth(t, tn.bridge, b.id)
	// Same number, other protocol, is a different port.
	udp := tn.cfg(func(c *Config) { c.Ports = []PortMapping{{18090, 80, "udp"}} })
	mustSetup(t, b, udp)
	mustTeardown(t, b, udp)
	mustTeardown(t, a, cfg)
}

func assertNoVeth(t *testing.T, bridge, id string) {
	t.Helper()
	if _, err := netlink.LinkByName(vethName(bridge, id)); err == nil {
		t.Errorf("veth of %s exists after a failed setup", id)
	}
}

func TestSubnetOverlappingHostRoute(t *testing.T) {
	tn := newTestNet(t)
	// A dummy interface owning a route inside the test subnet.
	dummy := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "gktestdummy0"}}
	if err := netlink.LinkAdd(dummy); err != nil {
		t.Fatal(err)
	}
	defer netlink.LinkDel(dummy)
	netlink.LinkSetUp(dummy)
	inner := netip.PrefixFrom(tn.subnet.Addr(), 26)
	if err := netlink.RouteAdd(&netlink.Route{LinkIndex: dummy.Attrs().Index, Dst: ipNet(inner)}); err != nil {
		t.Fatal(err)
	}
	c := newCtr(t, "gktest-overlap", 0)
	_, err := Setup(c.state(""), tn.cfg(), "")
	if err == nil || !strings.Contains(err.Error(), "overlaps host route "+inner.String()+" dev gktestdummy0") {
		t.Fatalf("overlapping subnet: %v", err)
	}
	assertNoVeth(t, tn.bridge, c.id)
}

func TestExhaustedPool(t *testing.T) {
	tn := newTestNet(t)
	cfg := tn.cfg(func(c *Config) { c.Subnet = netip.PrefixFrom(tn.subnet.Addr(), 30) })
	a, b := newCtr(t, "gktest-x1", 0), newCtr(t, "gktest-x2", 0)
	mustSetup(t, a, cfg)
	_, err := Setup(b.state(""), cfg, "")
	if err == nil || !strings.Contains(err.Error(), "exhausted") {
		t.Fatalf("second container in a /30: %v", err)
	}
	assertNoVeth(t, tn.bridge, b.id)
	// A stale lease is reclaimed: once a is gone, b gets its address.
	a.kill()
	lb := mustSetup(t, b, cfg)
	if lb.IP != tn.subnet.Addr().Next().Next() {
		t.Errorf("b got %s", lb.IP)
	}
	if _, err := netlink.LinkByName(vethName(tn.bridge, a.id)); err == nil {
		t.Errorf("stale lease's veth not removed")
	}
	mustTeardown(t, b, cfg)
	mustTeardown(t, a, cfg) // after reclaim: nothing to do, no error
}

func TestSubnetMismatchOnExistingNetwork(t *testing.T) {
	tn := newTestNet(t)
	a, b := newCtr(t, "gktest-m1", 0), newCtr(t, "gktest-m2", 0)
	mustSetup(t, a, tn.cfg())
	other := tn.cfg(func(c *Config) { c.Subnet = netip.MustParsePrefix("10.254.254.0/24") })
	if _, err := Setup(b.state(""), other, ""); err == nil || !strings.Contains(err.Error(), "already has subnet") {
		t.Fatalf("mismatched subnet: %v", err)
	}
	// No subnet given: joins the existing one.
	l := mustSetup(t, b, Config{Bridge: tn.bridge})
	if !tn.subnet.Contains(l.IP) {
		t.Errorf("joined with %s", l.IP)
	}
	mustTeardown(t, a, tn.cfg())
	mustTeardown(t, b, tn.cfg())
}

func TestVanishedNetns(t *testing.T) {
	tn := newTestNet(t)
	c := newCtr(t, "gktest-gone", 0)
	st := c.state("")
	c.kill()
	_, err := Setup(st, tn.cfg(), "")
	if err == nil || !strings.Contains(err.Error(), "did the container exit") {
		t.Fatalf("vanished netns: %v", err)
	}
	if _, err := Setup(st, tn.cfg(), ""); err == nil {
		t.Fatal("second try succeeded")
	}
	st.Pid = os.Getpid() // the host's own namespace is refused
	if _, err := Setup(st, tn.cfg(), ""); err == nil || !strings.Contains(err.Error(), "shares the host network namespace") {
		t.Fatalf("host netns: %v", err)
	}
}

func TestMissingPrivilege(t *testing.T) {
	tn := newTestNet(t)
	c := newCtr(t, "gktest-nobody", 0)
	os.Chmod(tn.stateDir, 0o777)
	cmd := hookProc(t, "setup", c.state(""), tn.cfg())
	cmd.Path = worldExecutableCopy(t)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "needs CAP_NET_ADMIN") {
		t.Fatalf("setup as nobody: %v %s", err, out)
	}
	entries, _ := os.ReadDir(tn.stateDir)
	if len(entries) != 0 {
		t.Errorf("state dir not empty: %v", entries)
	}
}

// worldExecutableCopy copies the test binary where nobody may run it (the
// go build cache is 0700).
func worldExecutableCopy(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "gktest-bin")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	b, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "hook")
	if err := os.WriteFile(p, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestBadCIDRThroughHook(t *testing.T) {
	tn := newTestNet(t)
	c := newCtr(t, "gktest-cidr", 0)
	cmd := hookProc(t, "setup", c.state(""), tn.cfg())
	cmd.Args[len(cmd.Args)-1] = "bridge=" + tn.bridge + ";subnet=10.1.0.0/40"
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "bad CIDR") {
		t.Fatalf("bad CIDR: %v %s", err, out)
	}
}

func TestEth0AlreadyInContainer(t *testing.T) {
	tn := newTestNet(t)
	c := newCtr(t, "gktest-eth0", 0)
	ns, err := netns.GetFromPath(fmt.Sprintf("/proc/%d/ns/net", c.pid()))
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if err := h.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "eth0"}, PeerName: "gktestpeer"}); err != nil {
		t.Fatal(err)
	}
	_, err = Setup(c.state(""), tn.cfg(), "")
	if err == nil || !strings.Contains(err.Error(), "exists") {
		t.Fatalf("eth0 clash: %v", err)
	}
	assertNoVeth(t, tn.bridge, c.id)
}

// leftovers lists what of tn's network exists right now.
func (tn testNet) leftovers(t *testing.T) []string {
	t.Helper()
	var left []string
	if _, err := netlink.LinkByName(tn.bridge); err == nil {
		left = append(left, "bridge")
	}
	veths, _ := ourVeths()
	for name, owner := range veths {
		if owner[0] == tn.bridge {
			left = append(left, "veth "+name)
		}
	}
	if nftList(t, tn.bridge) != "" {
		left = append(left, "table")
	}
	if _, err := os.Stat(filepath.Join(tn.stateDir, tn.bridge)); err == nil {
		left = append(left, "leases")
	}
	return left
}

func TestSIGKILLMidSetupThenTeardownAndPrune(t *testing.T) {
	tn := newTestNet(t)
	cfg := tn.cfg(func(c *Config) { c.Ports = []PortMapping{{18100, 80, "tcp"}} })
	// The kills are spread over the time a whole setup takes here, as
	// measured first: fixed delays all landed before setup began when
	// the hook starts slowly (a -race build, a loaded host).
	probe := newCtr(t, "gktest-kill-probe", 0)
	hook := hookProc(t, "setup", probe.state(""), cfg)
	t0 := time.Now()
	if out, err := hook.CombinedOutput(); err != nil {
		t.Fatalf("setup to measure: %v: %s", err, out)
	}
	whole := time.Since(t0)
	probe.kill()
	if err := Teardown(probe.state(""), cfg, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := Prune(""); err != nil {
		t.Fatal(err)
	}
	var partial, complete int
	for i := 0; i < 40; i++ {
		c := newCtr(t, fmt.Sprintf("gktest-kill-%02d", i), 0)
		hook := hookProc(t, "setup", c.state(""), cfg)
		if err := hook.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(whole * time.Duration(i) / 40)
		hook.Process.Signal(syscall.SIGKILL)
		err := hook.Wait()
		switch left := tn.leftovers(t); {
		case err == nil:
			complete++
		case len(left) > 0:
			partial++
		}
		// What `delete --force` does: kill the init, run poststop.
		c.kill()
		if i%2 == 0 {
			if err := Teardown(c.state(""), cfg, ""); err != nil {
				t.Errorf("teardown after kill %d: %v", i, err)
			}
		}
		if _, err := Prune(""); err != nil {
			t.Errorf("prune after kill %d: %v", i, err)
		}
		if left := tn.leftovers(t); len(left) > 0 {
			t.Fatalf("kill at %d: left %v", i, left)
		}
	}
	t.Logf("40 kills over %v: %d left partial state, %d completed before the kill", whole, partial, complete)
	if partial == 0 {
		t.Errorf("no kill landed mid-setup; the test proved nothing")
	}
}

func TestPruneRemovesOrphans(t *testing.T) {
	tn := newTestNet(t)
	cfg := tn.cfg(func(c *Config) { c.Ports = []PortMapping{{18110, 80, "tcp"}} })
	live := newCtr(t, "gktest-live", 0)
	dead := newCtr(t, "gktest-dead", 0)
	ll := mustSetup(t, live, cfg)
	mustSetup(t, dead, tn.cfg())
	dead.kill() // its lease is now stale

	// An orphan veth claiming the known network with no lease.
	orphan := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "gktestorph0", Alias: ""}, PeerName: "gktestorph1"}
	if err := netlink.LinkAdd(orphan); err != nil {
		t.Fatal(err)
	}
	o, _ := netlink.LinkByName("gktestorph0")
	netlink.LinkSetAlias(o, vethAlias(tn.bridge, "gktest-nolease"))
	// An orphan port rule.
	n := &Network{Bridge: tn.bridge}
	if err := addPortRules(n, &Lease{ID: "gktest-norule", IP: ll.IP, Ports: []PortMapping{{18111, 80, "tcp"}}}); err != nil {
		t.Fatal(err)
	}
	// An orphan network: bridge and table with no record.
	ghost := testNet{bridge: tn.bridge + "g", stateDir: tn.stateDir}
	gn := newNetwork(ghost.bridge, netip.MustParsePrefix("10.254.253.0/24"), 1500)
	if err := ensureBridge(gn); err != nil {
		t.Fatal(err)
	}
	if err := ensureNetworkRules(gn); err != nil {
		t.Fatal(err)
	}

	rep, err := Prune("")
	if err != nil {
		t.Fatal(err)
	}
	want := PruneReport{
		Leases:  []string{tn.bridge + "/gktest-dead"},
		Veths:   []string{"gktestorph0"},
		Rules:   []string{tn.bridge + "/gktest-norule"},
		Tables:  []string{tablePrefix + ghost.bridge},
		Bridges: []string{ghost.bridge},
	}
	if fmt.Sprint(rep) != fmt.Sprint(want) {
		t.Errorf("prune report\n got %+v\nwant %+v", rep, want)
	}
	if left := ghost.leftovers(t); len(left) > 0 {
		t.Errorf("ghost network left: %v", left)
	}
	rules := nftList(t, tn.bridge)
	if strings.Contains(rules, "18111") || !strings.Contains(rules, "18110") {
		t.Errorf("rules after prune:\n%s", rules)
	}
	if _, err := netlink.LinkByName(ll.HostVeth); err != nil {
		t.Errorf("prune removed the live container's veth")
	}
	// Prune again: nothing to do.
	if rep, err := Prune(""); err != nil || fmt.Sprint(rep) != fmt.Sprint(PruneReport{}) {
		t.Errorf("second prune: %+v %v", rep, err)
	}
	mustTeardown(t, live, cfg)
}

// fakeBundle makes a bundle dir with a config.json naming rootfs and hostname.
func fakeBundle(t *testing.T, withEtc bool) (bundle, rootfs string) {
	t.Helper()
	bundle = t.TempDir()
	rootfs = filepath.Join(bundle, "rootfs")
	os.MkdirAll(filepath.Join(rootfs, "etc"), 0o755)
	if withEtc {
		os.WriteFile(filepath.Join(rootfs, "etc/hosts"), []byte("orig-hosts\n"), 0o644)
		os.WriteFile(filepath.Join(rootfs, "etc/resolv.conf"), []byte("orig-resolv\n"), 0o644)
	}
	os.WriteFile(filepath.Join(bundle, "config.json"), []byte(`{"ociVersion":"1.2.0","root":{"path":"rootfs"},"hostname":"gktest-box"}`), 0o644)
	return bundle, rootfs
}

func TestFilesRootfsModeWritesInPlace(t *testing.T) {
	tn := newTestNet(t)
	bundle, rootfs := fakeBundle(t, false)
	// A symlink pointing at a host file must not be followed out of the rootfs.
	os.Symlink("/etc/gktest-must-not-exist", filepath.Join(rootfs, "etc/resolv.conf"))
	cfg := tn.cfg(func(c *Config) { c.Hosts, c.Resolv, c.DNS = FilesRootfs, FilesRootfs, []string{"10.9.9.9"} })
	c := newCtr(t, "gktest-files", 0)
	l, err := Setup(c.state(bundle), cfg, "")
	if err != nil {
		t.Fatal(err)
	}
	hosts, _ := os.ReadFile(filepath.Join(rootfs, "etc/hosts"))
	if !strings.Contains(string(hosts), l.IP.String()+"\tgktest-box\n") || !strings.Contains(string(hosts), "127.0.0.1\tlocalhost") {
		t.Errorf("hosts:\n%s", hosts)
	}
	if _, err := os.Stat("/etc/gktest-must-not-exist"); err == nil {
		os.Remove("/etc/gktest-must-not-exist")
		t.Fatal("wrote through a symlink to the host")
	}
	// The symlink is followed inside the rootfs, as the container sees it.
	resolv, _ := os.ReadFile(filepath.Join(rootfs, "etc/gktest-must-not-exist"))
	if !strings.Contains(string(resolv), "nameserver 10.9.9.9\n") {
		t.Errorf("resolv.conf:\n%s", resolv)
	}
	mustTeardown(t, c, cfg)
}

func TestFilesBindModeLeavesRootfsAlone(t *testing.T) {
	tn := newTestNet(t)
	bundle, rootfs := fakeBundle(t, true)
	saved := hostResolvConf
	hostResolvConf = filepath.Join(t.TempDir(), "resolv.conf")
	defer func() { hostResolvConf = saved }()
	os.WriteFile(hostResolvConf, []byte("nameserver 127.0.0.53\nnameserver 10.8.8.8\nsearch example.test\n"), 0o644)
	cfg := tn.cfg(func(c *Config) { c.Hosts, c.Resolv = FilesBind, FilesBind })
	c := newCtr(t, "gktest-bind", syscall.CLONE_NEWNS)
	l, err := Setup(c.state(bundle), cfg, "")
	if err != nil {
		t.Fatal(err)
	}
	// Seen from inside the container's mount namespace: the generated files.
	read := func(p string) string {
		out, err := exec.Command("nsenter", fmt.Sprintf("--mount=/proc/%d/ns/mnt", c.pid()), "--", "/bin/busybox", "cat", p).CombinedOutput()
		if err != nil {
			t.Fatalf("cat %s: %v %s", p, err, out)
		}
		return string(out)
	}
	if h := read(filepath.Join(rootfs, "etc/hosts")); !strings.Contains(h, l.IP.String()+"\tgktest-box") {
		t.Errorf("container hosts:\n%s", h)
	}
	r := read(filepath.Join(rootfs, "etc/resolv.conf"))
	if !strings.Contains(r, "nameserver 10.8.8.8") || strings.Contains(r, "127.0.0.53") || !strings.Contains(r, "search example.test") {
		t.Errorf("container resolv.conf:\n%s", r)
	}
	// Seen from the host: the bundle's files are untouched.
	for name, want := range map[string]string{"hosts": "orig-hosts\n", "resolv.conf": "orig-resolv\n"} {
		if b, _ := os.ReadFile(filepath.Join(rootfs, "etc", name)); string(b) != want {
			t.Errorf("rootfs %s changed: %q", name, b)
		}
	}
	mustTeardown(t, c, cfg)
	if _, err := os.Stat(filesDir(&Store{dir: tn.stateDir}, tn.bridge, c.id)); err == nil {
		t.Errorf("generated files left")
	}
}

func TestFilesBindNeedsMountPoint(t *testing.T) {
	tn := newTestNet(t)
	bundle, _ := fakeBundle(t, false)
	c := newCtr(t, "gktest-nomp", syscall.CLONE_NEWNS)
	_, err := Setup(c.state(bundle), tn.cfg(func(c *Config) { c.Hosts = FilesBind }), "")
	if err == nil || !strings.Contains(err.Error(), "needs /etc/hosts to exist") {
		t.Fatalf("missing mount point: %v", err)
	}
	assertNoVeth(t, tn.bridge, c.id)
}

func TestUserBridgeIsKept(t *testing.T) {
	tn := newTestNet(t)
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: tn.bridge}}
	if err := netlink.LinkAdd(br); err != nil {
		t.Fatal(err)
	}
	c := newCtr(t, "gktest-userbr", 0)
	mustSetup(t, c, tn.cfg())
	mustTeardown(t, c, tn.cfg())
	link, err := netlink.LinkByName(tn.bridge)
	if err != nil {
		t.Fatalf("the user's bridge was deleted: %v", err)
	}
	netlink.LinkDel(link) // ours to clean: the test made it
}

func TestHairpinToPublishedPort(t *testing.T) {
	tn := newTestNet(t)
	cfgA := tn.cfg(func(c *Config) { c.Ports = []PortMapping{{18120, 80, "tcp"}} })
	a, b := newCtr(t, "gktest-ha", 0), newCtr(t, "gktest-hb", 0)
	la := mustSetup(t, a, cfgA)
	mustSetup(t, b, tn.cfg())
	a.listen(t, 80, "hairpin-ok\n", false)
	gw := tn.subnet.Addr().Next().String()
	out, err := b.run(t, "nc", "-w", "3", gw, "18120")
	if err != nil || !strings.Contains(out, "hairpin-ok") {
		t.Errorf("b -> %s:18120 -> a (%s): %q %v", gw, la.IP, out, err)
	}
	mustTeardown(t, a, cfgA)
	mustTeardown(t, b, tn.cfg())
}

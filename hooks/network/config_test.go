package network

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestResolveFlagsOverrideAnnotations(t *testing.T) {
	ann := map[string]string{
		AnnotationPrefix + "bridge": "br_ann",
		AnnotationPrefix + "subnet": "10.1.2.0/24",
		AnnotationPrefix + "ports":  "8080:80/tcp, 5353:53/udp",
		AnnotationPrefix + "mtu":    "1400",
		"org.other.key":             "ignored",
	}
	cfg, err := Resolve(ann, map[string]string{"bridge": "br_flag", "ip": "10.1.2.7"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Bridge != "br_flag" || cfg.Subnet != netip.MustParsePrefix("10.1.2.0/24") ||
		cfg.IP != netip.MustParseAddr("10.1.2.7") || cfg.MTU != 1400 {
		t.Fatalf("got %+v", cfg)
	}
	want := []PortMapping{{8080, 80, "tcp"}, {5353, 53, "udp"}}
	if !reflect.DeepEqual(cfg.Ports, want) {
		t.Fatalf("ports %v, want %v", cfg.Ports, want)
	}
}

func TestResolveDefaults(t *testing.T) {
	cfg, err := Resolve(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Bridge != DefaultBridge || cfg.Subnet.IsValid() || cfg.Hosts != FilesOff {
		t.Fatalf("got %+v", cfg)
	}
	// The default must avoid Docker's and podman's defaults.
	def := netip.MustParsePrefix(DefaultSubnet)
	for _, other := range []string{"172.17.0.0/16", "10.88.0.0/16", "10.89.0.0/16"} {
		if def.Overlaps(netip.MustParsePrefix(other)) {
			t.Errorf("default subnet %s overlaps %s", def, other)
		}
	}
}

func TestResolveBadInput(t *testing.T) {
	for _, tc := range []struct{ key, val, want string }{
		{"subnet", "10.0.0.0/33", "bad CIDR"},
		{"subnet", "banana", "bad CIDR"},
		{"subnet", "10.0.0.1/24", "host bits set"},
		{"subnet", "10.0.0.0/31", "between /8 and /30"},
		{"subnet", "fd00::/64", "only IPv4"},
		{"ip", "300.1.1.1", "bad IPv4"},
		{"mtu", "12", "bad MTU"},
		{"ports", "80:0/tcp", "bad port"},
		{"ports", "80:81/sctp", "tcp or udp"},
		{"ports", "70000:80", "bad port"},
		{"ports", "80:81,80:82", "listed twice"},
		{"hosts", "yes-please", "bad hosts mode"},
		{"dns", "1.2.3", "bad nameserver"},
		{"bridge", "has-dash", "must be 1-15"},
		{"bridge", "waytoolongbridgename", "must be 1-15"},
		{"colour", "blue", "unknown"},
	} {
		_, err := Resolve(map[string]string{AnnotationPrefix + tc.key: tc.val}, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s=%q: error %v, want it to contain %q", tc.key, tc.val, err, tc.want)
		}
	}
	_, err := Resolve(nil, map[string]string{"subnet": "10.0.0.0/24", "ip": "10.0.1.5"})
	if err == nil || !strings.Contains(err.Error(), "outside subnet") {
		t.Errorf("ip outside subnet: %v", err)
	}
}

func TestAnnotationsRoundTrip(t *testing.T) {
	in := Config{Bridge: "gk_rt", Subnet: netip.MustParsePrefix("10.3.0.0/16"), IP: netip.MustParseAddr("10.3.0.9"),
		MTU: 9000, Ports: []PortMapping{{1, 2, "udp"}}, Hosts: FilesBind, Resolv: FilesRootfs, DNS: []string{"10.3.0.1"}}
	out, err := Resolve(in.Annotations(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip\n in  %+v\n out %+v", in, out)
	}
}

func TestAllocate(t *testing.T) {
	n := newNetwork("b", netip.MustParsePrefix("10.9.0.0/30"), 1500)
	if n.Gateway != netip.MustParseAddr("10.9.0.1") {
		t.Fatalf("gateway %s", n.Gateway)
	}
	ip, err := n.allocate(netip.Addr{})
	if err != nil || ip != netip.MustParseAddr("10.9.0.2") {
		t.Fatalf("first: %s %v", ip, err)
	}
	n.Leases["a"] = &Lease{ID: "a", IP: ip}
	if _, err := n.allocate(netip.Addr{}); err == nil || !strings.Contains(err.Error(), "exhausted") {
		t.Fatalf("second in a /30: %v", err)
	}
	for _, bad := range []string{"10.9.0.0", "10.9.0.1", "10.9.0.3", "10.9.1.2"} {
		if _, err := n.allocate(netip.MustParseAddr(bad)); err == nil {
			t.Errorf("allocate(%s) succeeded", bad)
		}
	}
	big := newNetwork("b", netip.MustParsePrefix("10.9.0.0/24"), 1500)
	big.Leases["x"] = &Lease{ID: "x", IP: netip.MustParseAddr("10.9.0.2")}
	if ip, _ := big.allocate(netip.Addr{}); ip != netip.MustParseAddr("10.9.0.3") {
		t.Errorf("next free after .2 is %s", ip)
	}
	if lastHost(big.Subnet) != netip.MustParseAddr("10.9.0.254") {
		t.Errorf("lastHost %s", lastHost(big.Subnet))
	}
}

func TestAddToSpec(t *testing.T) {
	s := &specs.Spec{Hooks: &specs.Hooks{Poststop: []specs.Hook{{Path: "/bin/other"}}}}
	cfg := Config{Bridge: "gocker0", Ports: []PortMapping{{8080, 80, "tcp"}}}
	for i := 0; i < 2; i++ { // twice: must not duplicate
		if err := AddToSpec(s, "/usr/local/bin/gocker", cfg); err != nil {
			t.Fatal(err)
		}
	}
	if len(s.Hooks.CreateRuntime) != 1 || len(s.Hooks.Poststop) != 2 {
		t.Fatalf("hooks %+v", s.Hooks)
	}
	h := s.Hooks.CreateRuntime[0]
	if h.Path != "/usr/local/bin/gocker" || !reflect.DeepEqual(h.Args, []string{"gocker", "hook", "network", "setup"}) {
		t.Fatalf("setup hook %+v", h)
	}
	if s.Hooks.Poststop[0].Path != "/bin/other" || s.Hooks.Poststop[1].Args[3] != "teardown" {
		t.Fatalf("poststop %+v", s.Hooks.Poststop)
	}
	if s.Annotations[AnnotationPrefix+"ports"] != "8080:80/tcp" || s.Annotations[AnnotationPrefix+"bridge"] != "gocker0" {
		t.Fatalf("annotations %v", s.Annotations)
	}
	if len(s.Linux.Namespaces) != 1 || s.Linux.Namespaces[0].Type != specs.NetworkNamespace {
		t.Fatalf("namespaces %+v", s.Linux.Namespaces)
	}
	if err := AddToSpec(s, "gocker", cfg); err == nil {
		t.Fatal("relative binary path accepted")
	}
}

func TestReadState(t *testing.T) {
	st, err := ReadState(strings.NewReader(`{"ociVersion":"1.2.0","id":"c1","status":"created","pid":42,"bundle":"/b","annotations":{"k":"v"}}`))
	if err != nil || st.ID != "c1" || st.Pid != 42 || st.Bundle != "/b" || st.Annotations["k"] != "v" {
		t.Fatalf("%+v %v", st, err)
	}
	if _, err := ReadState(strings.NewReader(`{"pid":1}`)); err == nil {
		t.Fatal("state without id accepted")
	}
	if _, err := ReadState(strings.NewReader(`not json`)); err == nil {
		t.Fatal("garbage accepted")
	}
}

func TestVethName(t *testing.T) {
	a, b := vethName("gocker0", "c1"), vethName("gocker0", "c2")
	if a == b || len(a) != 13 || !strings.HasPrefix(a, "gk") || vethName("gocker0", "c1") != a {
		t.Fatalf("%q %q", a, b)
	}
	br, id, ok := parseVethAlias(vethAlias("gocker0", "my:id"))
	if !ok || br != "gocker0" || id != "my:id" {
		t.Fatalf("alias round trip: %q %q %v", br, id, ok)
	}
}

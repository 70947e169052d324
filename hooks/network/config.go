// Package network is gocker's bridge network hook. It gives a container a
// veth on a host bridge, an address from a file-locked lease store, a default
// route, masquerade and published ports in a gocker-owned nftables table.
//
// It runs as an OCI hook (createRuntime or prestart for setup, poststop for
// teardown), so bundles stay portable and the runtime itself never touches
// the network. See README.md in this directory for the settings schema.
package network

import (
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
)

// AnnotationPrefix namespaces every setting this hook reads from the
// bundle's annotations (runtime-spec config.md "Annotations": keys SHOULD
// be reverse-domain named).
const AnnotationPrefix = "org.gocker.network."

// Defaults. 10.87.0.0/24 sits outside Docker's 172.17.0.0/16 (and its
// 172.18-31 user pools), podman's 10.88.0.0/16 default and podman's
// 10.89.x.0/24 pool for `podman network create`.
const (
	DefaultBridge = "gocker0"
	DefaultSubnet = "10.87.0.0/24"
	DefaultMTU    = 1500
	// DefaultStateDir holds one directory per network with its leases.
	DefaultStateDir = "/var/lib/gocker/network"
	// StateDirEnv overrides DefaultStateDir (tests, unprivileged layouts).
	StateDirEnv = "GOCKER_NETWORK_STATE"
)

// File modes for /etc/hosts and /etc/resolv.conf (keys "hosts", "resolv").
const (
	FilesOff    = ""       // do nothing (default)
	FilesBind   = "bind"   // generate under the state dir, bind-mount into the container
	FilesRootfs = "rootfs" // overwrite the rootfs file in place: the user's explicit opt-in
)

// PortMapping publishes ContainerPort of the container on HostPort of every
// local host address, including 127.0.0.1.
type PortMapping struct {
	HostPort      uint16 `json:"hostPort"`
	ContainerPort uint16 `json:"containerPort"`
	Proto         string `json:"proto"` // "tcp" or "udp"
}

func (p PortMapping) String() string {
	return fmt.Sprintf("%d:%d/%s", p.HostPort, p.ContainerPort, p.Proto)
}

// Config is the resolved setting set of one hook invocation.
type Config struct {
	Bridge string       // host bridge name
	Subnet netip.Prefix // invalid = take the existing network's, else DefaultSubnet
	IP     netip.Addr   // invalid = next free address
	MTU    int          // 0 = DefaultMTU
	Ports  []PortMapping
	Hosts  string   // FilesOff, FilesBind or FilesRootfs
	Resolv string   // FilesOff, FilesBind or FilesRootfs
	DNS    []string // nameservers for resolv.conf; empty = host's non-loopback ones
}

// Keys are the setting names, used both as annotation suffixes and as hook
// argument flags (--bridge=..., --subnet=...).
var Keys = []string{"bridge", "subnet", "ip", "mtu", "ports", "hosts", "resolv", "dns"}

// validBridgeName keeps names valid both as Linux interface names (IFNAMSIZ 16
// including the NUL) and inside our nftables table name.
//
// A loop, not a regexp: a package-level regexp is compiled in every gocker
// process, the container's init included, at ~0.15 ms.
func validBridgeName(s string) bool {
	if len(s) < 1 || len(s) > 15 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}

// Resolve merges annotations (AnnotationPrefix+key) with flag values (key
// without prefix); flags win, because hook args are the more specific,
// per-hook source. Unknown keys under our prefix are errors so typos do not
// silently fall back to defaults.
func Resolve(annotations, flags map[string]string) (Config, error) {
	merged := map[string]string{}
	for k, v := range annotations {
		if key, ok := strings.CutPrefix(k, AnnotationPrefix); ok {
			merged[key] = v
		}
	}
	for k, v := range flags {
		merged[k] = v
	}
	cfg := Config{Bridge: DefaultBridge}
	for _, k := range sortedKeys(merged) {
		if err := cfg.set(k, strings.TrimSpace(merged[k])); err != nil {
			return Config{}, err
		}
	}
	return cfg, cfg.Validate()
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (c *Config) set(key, v string) error {
	var err error
	switch key {
	case "bridge":
		c.Bridge = v
	case "subnet":
		c.Subnet, err = parseSubnet(v)
	case "ip":
		c.IP, err = parseIP(v)
	case "mtu":
		c.MTU, err = parseMTU(v)
	case "ports":
		c.Ports, err = ParsePorts(v)
	case "hosts":
		c.Hosts, err = parseFilesMode(key, v)
	case "resolv":
		c.Resolv, err = parseFilesMode(key, v)
	case "dns":
		c.DNS, err = parseDNS(v)
	default:
		return fmt.Errorf("network setting %q: unknown (known: %s)", key, strings.Join(Keys, ", "))
	}
	if err != nil {
		return fmt.Errorf("network setting %q: %w", key, err)
	}
	return nil
}

// Validate checks the cross-field rules.
func (c *Config) Validate() error {
	if !validBridgeName(c.Bridge) {
		return fmt.Errorf("network setting \"bridge\": %q must be 1-15 characters of [A-Za-z0-9_]", c.Bridge)
	}
	if c.IP.IsValid() && c.Subnet.IsValid() && !c.Subnet.Contains(c.IP) {
		return fmt.Errorf("network setting \"ip\": %s is outside subnet %s", c.IP, c.Subnet)
	}
	seen := map[string]bool{}
	for _, p := range c.Ports {
		k := fmt.Sprintf("%d/%s", p.HostPort, p.Proto)
		if seen[k] {
			return fmt.Errorf("network setting \"ports\": host port %s listed twice", k)
		}
		seen[k] = true
	}
	return nil
}

func parseSubnet(v string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(v)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("bad CIDR %q: %w", v, err)
	}
	if !p.Addr().Is4() {
		return netip.Prefix{}, fmt.Errorf("bad CIDR %q: only IPv4 subnets are supported", v)
	}
	// /31 and /32 leave no room for a gateway plus one container.
	if p.Bits() > 30 || p.Bits() < 8 {
		return netip.Prefix{}, fmt.Errorf("bad CIDR %q: prefix length must be between /8 and /30", v)
	}
	if p.Masked() != p {
		return netip.Prefix{}, fmt.Errorf("bad CIDR %q: host bits set (did you mean %s?)", v, p.Masked())
	}
	return p, nil
}

func parseIP(v string) (netip.Addr, error) {
	a, err := netip.ParseAddr(v)
	if err != nil || !a.Is4() {
		return netip.Addr{}, fmt.Errorf("bad IPv4 address %q", v)
	}
	return a, nil
}

func parseMTU(v string) (int, error) {
	n, err := strconv.Atoi(v)
	// 68 is the IPv4 minimum (RFC 791); 65535 the largest IPv4 datagram.
	if err != nil || n < 68 || n > 65535 {
		return 0, fmt.Errorf("bad MTU %q: want an integer in 68..65535", v)
	}
	return n, nil
}

func parseFilesMode(key, v string) (string, error) {
	switch v {
	case FilesOff, "off", "false":
		return FilesOff, nil
	case FilesBind, "true":
		return FilesBind, nil
	case FilesRootfs:
		return FilesRootfs, nil
	}
	return "", fmt.Errorf("bad %s mode %q: want \"bind\", \"rootfs\" or \"off\"", key, v)
}

func parseDNS(v string) ([]string, error) {
	var out []string
	for _, s := range splitList(v) {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("bad nameserver %q", s)
		}
		out = append(out, a.String())
	}
	return out, nil
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// ParsePorts parses "8080:80/tcp,5353:53/udp"; the protocol defaults to tcp
// and "80" alone means 80:80/tcp.
func ParsePorts(v string) ([]PortMapping, error) {
	var out []PortMapping
	for _, item := range splitList(v) {
		p, err := parsePort(item)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

func parsePort(item string) (PortMapping, error) {
	spec, proto, hasProto := strings.Cut(item, "/")
	if !hasProto {
		proto = "tcp"
	}
	if proto != "tcp" && proto != "udp" {
		return PortMapping{}, fmt.Errorf("bad port %q: protocol must be tcp or udp", item)
	}
	hostS, ctrS, hasCtr := strings.Cut(spec, ":")
	if !hasCtr {
		ctrS = hostS
	}
	host, err1 := parsePortNumber(hostS)
	ctr, err2 := parsePortNumber(ctrS)
	if err1 != nil || err2 != nil {
		return PortMapping{}, fmt.Errorf("bad port %q: want hostPort:containerPort[/tcp|/udp] with ports 1..65535", item)
	}
	return PortMapping{HostPort: host, ContainerPort: ctr, Proto: proto}, nil
}

func parsePortNumber(s string) (uint16, error) {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("bad port number %q", s)
	}
	return uint16(n), nil
}

// Annotations renders the non-default settings of c as annotations, the
// inverse of Resolve; AddToSpec uses it.
func (c Config) Annotations() map[string]string {
	a := map[string]string{AnnotationPrefix + "bridge": c.Bridge}
	if c.Bridge == "" {
		a[AnnotationPrefix+"bridge"] = DefaultBridge
	}
	if c.Subnet.IsValid() {
		a[AnnotationPrefix+"subnet"] = c.Subnet.String()
	}
	if c.IP.IsValid() {
		a[AnnotationPrefix+"ip"] = c.IP.String()
	}
	if c.MTU != 0 {
		a[AnnotationPrefix+"mtu"] = strconv.Itoa(c.MTU)
	}
	if len(c.Ports) > 0 {
		ps := make([]string, len(c.Ports))
		for i, p := range c.Ports {
			ps[i] = p.String()
		}
		a[AnnotationPrefix+"ports"] = strings.Join(ps, ",")
	}
	if c.Hosts != FilesOff {
		a[AnnotationPrefix+"hosts"] = c.Hosts
	}
	if c.Resolv != FilesOff {
		a[AnnotationPrefix+"resolv"] = c.Resolv
	}
	if len(c.DNS) > 0 {
		a[AnnotationPrefix+"dns"] = strings.Join(c.DNS, ",")
	}
	return a
}

package network

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Aliases (IFLA_IFALIAS) mark the links we own, so prune can tell them from
// anyone else's without trusting names alone.
const (
	bridgeAlias    = "gocker-network"
	vethAliasPfx   = "gocker:" // + bridge + ":" + container id
	containerIface = "eth0"
)

// vethName is the host end's name: "gk" + 11 hex digits of a hash of the
// network and container id (13 bytes, under IFNAMSIZ). Deterministic, so
// teardown finds the veth even when the lease was never written.
func vethName(bridge, id string) string {
	sum := sha256.Sum256([]byte(bridge + "\x00" + id))
	return "gk" + hex.EncodeToString(sum[:])[:11]
}

func vethAlias(bridge, id string) string { return vethAliasPfx + bridge + ":" + id }

// parseVethAlias inverts vethAlias.
func parseVethAlias(alias string) (bridge, id string, ok bool) {
	rest, ok := strings.CutPrefix(alias, vethAliasPfx)
	if !ok {
		return "", "", false
	}
	return strings.Cut(rest, ":")
}

// linkNotFound also accepts ENODEV: when a container's netns dies the
// kernel removes the veth pair asynchronously, so a link found a moment ago
// may be gone by the time we delete it.
func linkNotFound(err error) bool {
	var nf netlink.LinkNotFoundError
	return errors.As(err, &nf) || errors.Is(err, unix.ENODEV)
}

// checkSubnetFree rejects a subnet that overlaps any host route (all
// tables, so local addresses count too) except the routes of our own
// bridge. Default routes overlap everything and are ignored.
func checkSubnetFree(subnet netip.Prefix, bridge string) error {
	ownIndex := -1
	if br, err := netlink.LinkByName(bridge); err == nil {
		ownIndex = br.Attrs().Index
	}
	routes, err := netlink.RouteListFiltered(netlink.FAMILY_V4,
		&netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
	if err != nil {
		return fmt.Errorf("listing host routes: %w", err)
	}
	for _, r := range routes {
		if r.Dst == nil || r.LinkIndex == ownIndex {
			continue
		}
		dst, ok := prefixOf(r.Dst)
		if !ok || dst.Bits() == 0 || !dst.Overlaps(subnet) {
			continue
		}
		dev := fmt.Sprint(r.LinkIndex)
		if l, err := netlink.LinkByIndex(r.LinkIndex); err == nil {
			dev = l.Attrs().Name
		}
		return fmt.Errorf("subnet %s overlaps host route %s dev %s: choose another subnet with %ssubnet",
			subnet, dst, dev, AnnotationPrefix)
	}
	return nil
}

func prefixOf(n *net.IPNet) (netip.Prefix, bool) {
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(a.Unmap(), ones), true
}

// ensureBridge creates the bridge with the gateway address, or checks an
// existing one. It turns on two per-interface sysctls of the bridge only;
// they vanish with the bridge (README.md, "Forwarding"):
//   - forwarding: containers' packets arriving on the bridge may be routed
//     (ip_route_input checks the input device's forwarding flag);
//   - route_localnet: DNAT of connections to 127.0.0.1 may send a packet
//     with a loopback source out of the bridge before masquerade rewrites it.
func ensureBridge(n *Network) error {
	link, err := netlink.LinkByName(n.Bridge)
	switch {
	case linkNotFound(err):
		link, err = createBridge(n)
		if err != nil {
			return err
		}
	case err != nil:
		return fmt.Errorf("bridge %s: %w", n.Bridge, err)
	case link.Type() != "bridge":
		return fmt.Errorf("bridge %s: an interface of type %s already has this name", n.Bridge, link.Type())
	}
	if err := ensureGatewayAddr(link, n); err != nil {
		return err
	}
	for _, key := range []string{"forwarding", "route_localnet"} {
		p := filepath.Join("/proc/sys/net/ipv4/conf", n.Bridge, key)
		if err := os.WriteFile(p, []byte("1"), 0); err != nil {
			return fmt.Errorf("bridge %s: setting %s: %w", n.Bridge, key, err)
		}
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return fmt.Errorf("bridge %s: up: %w", n.Bridge, err)
	}
	return nil
}

func createBridge(n *Network) (netlink.Link, error) {
	// NewLinkAttrs, not a zero LinkAttrs: a zero TxQLen would be sent as 0.
	attrs := netlink.NewLinkAttrs()
	attrs.Name, attrs.MTU = n.Bridge, n.MTU
	if err := netlink.LinkAdd(&netlink.Bridge{LinkAttrs: attrs}); err != nil {
		return nil, fmt.Errorf("bridge %s: create: %w", n.Bridge, err)
	}
	link, err := netlink.LinkByName(n.Bridge)
	if err != nil {
		return nil, fmt.Errorf("bridge %s: %w", n.Bridge, err)
	}
	// RTM_NEWLINK ignores IFLA_IFALIAS, so the alias is a second step; the
	// caller's lease already names this bridge, so a crash in between is
	// still cleaned up by teardown of that lease.
	if err := netlink.LinkSetAlias(link, bridgeAlias); err != nil {
		netlink.LinkDel(link)
		return nil, fmt.Errorf("bridge %s: alias: %w", n.Bridge, err)
	}
	return link, nil
}

func ensureGatewayAddr(link netlink.Link, n *Network) error {
	addrs, err := netlink.AddrList(link, netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("bridge %s: addresses: %w", n.Bridge, err)
	}
	want := netip.PrefixFrom(n.Gateway, n.Subnet.Bits())
	for _, a := range addrs {
		if p, ok := prefixOf(a.IPNet); ok && p == want {
			return nil
		}
	}
	if len(addrs) > 0 {
		return fmt.Errorf("bridge %s already has address %s, not %s: it belongs to another network", n.Bridge, addrs[0].IPNet, want)
	}
	addr := &netlink.Addr{IPNet: ipNet(want)}
	if err := netlink.AddrAdd(link, addr); err != nil {
		return fmt.Errorf("bridge %s: adding %s: %w", n.Bridge, want, err)
	}
	return nil
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// bridgeIsOurs: the bridge does not exist yet (we are about to create it)
// or it carries our alias. A bridge the user made stays the user's.
func bridgeIsOurs(name string) bool {
	link, err := netlink.LinkByName(name)
	return linkNotFound(err) || (err == nil && link.Attrs().Alias == bridgeAlias)
}

// deleteBridge removes the bridge if we created it: owned says so (from
// the network record), or it carries our alias.
func deleteBridge(name string, owned bool) error {
	link, err := netlink.LinkByName(name)
	if linkNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("bridge %s: %w", name, err)
	}
	if !owned && link.Attrs().Alias != bridgeAlias {
		return nil
	}
	if err := netlink.LinkDel(link); err != nil && !linkNotFound(err) {
		return fmt.Errorf("bridge %s: delete: %w", name, err)
	}
	return nil
}

// openNetns opens the container's network namespace through its init's
// /proc entry and refuses the host's own namespace.
func openNetns(pid int) (netns.NsHandle, error) {
	if pid <= 0 {
		return netns.None(), fmt.Errorf("container state has no pid: the network hook must run in createRuntime or prestart")
	}
	path := fmt.Sprintf("/proc/%d/ns/net", pid)
	ns, err := netns.GetFromPath(path)
	if err != nil {
		return netns.None(), fmt.Errorf("container network namespace %s: %w (did the container exit?)", path, err)
	}
	host, err := netns.GetFromPath("/proc/self/ns/net")
	if err != nil {
		ns.Close()
		return netns.None(), fmt.Errorf("host network namespace: %w", err)
	}
	defer host.Close()
	if ns.Equal(host) {
		ns.Close()
		return netns.None(), fmt.Errorf("container %d shares the host network namespace: add a \"network\" entry to linux.namespaces", pid)
	}
	return ns, nil
}

// createVeth makes the pair with the peer created directly inside the
// container's namespace as eth0 (IFLA_NET_NS_FD on the peer), so no
// temporary name ever exists on the host and no thread switches namespace.
func createVeth(n *Network, l *Lease, ns netns.NsHandle) error {
	br, err := netlink.LinkByName(n.Bridge)
	if err != nil {
		return fmt.Errorf("bridge %s: %w", n.Bridge, err)
	}
	attrs := netlink.NewLinkAttrs()
	attrs.Name, attrs.MTU, attrs.MasterIndex = l.HostVeth, n.MTU, br.Attrs().Index
	veth := &netlink.Veth{
		LinkAttrs:     attrs,
		PeerName:      containerIface,
		PeerNamespace: netlink.NsFd(int(ns)),
	}
	if err := netlink.LinkAdd(veth); err != nil {
		if errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("veth %s/%s: an interface with this name exists on the host or in the container: %w", l.HostVeth, containerIface, err)
		}
		return fmt.Errorf("veth %s: create: %w", l.HostVeth, err)
	}
	host, err := netlink.LinkByName(l.HostVeth)
	if err != nil {
		return fmt.Errorf("veth %s: %w", l.HostVeth, err)
	}
	// The alias lets prune recognise the veth even without its lease.
	if err := netlink.LinkSetAlias(host, vethAlias(n.Bridge, l.ID)); err != nil {
		return fmt.Errorf("veth %s: alias: %w", l.HostVeth, err)
	}
	if err := netlink.LinkSetUp(host); err != nil {
		return fmt.Errorf("veth %s: up: %w", l.HostVeth, err)
	}
	return nil
}

// configureContainer brings up lo and eth0, adds the address and the
// default route, all through a netlink socket opened inside the container's
// namespace (netlink.NewHandleAt locks its thread while it creates the socket).
func configureContainer(n *Network, l *Lease, ns netns.NsHandle) error {
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return fmt.Errorf("netlink in container namespace: %w", err)
	}
	defer h.Close()
	lo, err := h.LinkByName("lo")
	if err == nil {
		err = h.LinkSetUp(lo)
	}
	if err != nil {
		return fmt.Errorf("container lo: %w", err)
	}
	eth, err := h.LinkByName(containerIface)
	if err != nil {
		return fmt.Errorf("container %s: %w", containerIface, err)
	}
	addr := &netlink.Addr{IPNet: ipNet(netip.PrefixFrom(l.IP, n.Subnet.Bits()))}
	if err := h.AddrAdd(eth, addr); err != nil {
		return fmt.Errorf("container %s: adding %s: %w", containerIface, addr.IPNet, err)
	}
	if err := h.LinkSetUp(eth); err != nil {
		return fmt.Errorf("container %s: up: %w", containerIface, err)
	}
	route := &netlink.Route{LinkIndex: eth.Attrs().Index, Gw: n.Gateway.AsSlice()}
	if err := h.RouteAdd(route); err != nil {
		return fmt.Errorf("container default route via %s: %w", n.Gateway, err)
	}
	return nil
}

// deleteLink removes a host link by name; a missing link is success, which
// is what makes teardown idempotent. Deleting one end of a veth deletes the
// peer inside the container too.
func deleteLink(name string) error {
	link, err := netlink.LinkByName(name)
	if linkNotFound(err) {
		return nil
	}
	if err == nil {
		err = netlink.LinkDel(link)
	}
	if err != nil && !linkNotFound(err) {
		return fmt.Errorf("deleting %s: %w", name, err)
	}
	return nil
}

// ourVeths lists host veths that carry our alias, keyed by name.
func ourVeths() (map[string][2]string, error) {
	links, err := netlink.LinkList()
	if err != nil {
		return nil, fmt.Errorf("listing links: %w", err)
	}
	out := map[string][2]string{}
	for _, l := range links {
		if l.Type() != "veth" {
			continue
		}
		if br, id, ok := parseVethAlias(l.Attrs().Alias); ok {
			out[l.Attrs().Name] = [2]string{br, id}
		}
	}
	return out, nil
}

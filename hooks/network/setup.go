package network

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Setup connects the container described by st (the OCI state a hook gets
// on stdin) to cfg's network and returns its lease. On any error everything
// it did is undone, so a failed setup leaves nothing half-configured.
//
// The order makes a crash at any point recoverable: the lease (with the
// container's pid and start time) is written before any interface or rule
// exists, and every later object is named after the lease, so Teardown or
// Prune can always find it.
func Setup(st specs.State, cfg Config, stateDir string) (*Lease, error) {
	if err := requireNetAdmin(); err != nil {
		return nil, err
	}
	ns, err := openNetns(st.Pid)
	if err != nil {
		return nil, err
	}
	defer ns.Close()
	_, start, err := procStat(st.Pid)
	if err != nil {
		return nil, fmt.Errorf("container init %d: %w", st.Pid, err)
	}
	s, err := OpenStore(StateDir(stateDir))
	if err != nil {
		return nil, err
	}
	defer s.Close()
	n, l, err := s.claim(st, cfg, start)
	if err != nil {
		return nil, err
	}
	if err := build(n, l, ns, st, cfg, s); err != nil {
		if rerr := s.release(n, l); rerr != nil {
			err = errors.Join(err, fmt.Errorf("rolling back: %w", rerr))
		}
		return nil, fmt.Errorf("network %s: container %s: %w", n.Bridge, st.ID, err)
	}
	return l, nil
}

// claim reclaims what must go, validates, and records the new lease.
func (s *Store) claim(st specs.State, cfg Config, start uint64) (*Network, *Lease, error) {
	nets, err := s.Networks()
	if err != nil {
		return nil, nil, err
	}
	// A second setup of the same id (both createRuntime and prestart
	// configured, or an id reused after a crash) starts from scratch.
	if on, old := leaseOwner(nets, st.ID); old != nil {
		if err := s.release(on, old); err != nil {
			return nil, nil, err
		}
	}
	if err := s.reclaimStale(nets); err != nil {
		return nil, nil, err
	}
	if nets, err = s.Networks(); err != nil {
		return nil, nil, err
	}
	n, err := networkFor(nets, cfg)
	if err != nil {
		return nil, nil, err
	}
	if err := checkPortsFree(nets, cfg.Ports); err != nil {
		return nil, nil, err
	}
	ip, err := n.allocate(cfg.IP)
	if err != nil {
		return nil, nil, err
	}
	if !n.OwnsBridge {
		n.OwnsBridge = bridgeIsOurs(n.Bridge)
	}
	l := &Lease{ID: st.ID, IP: ip, HostVeth: vethName(n.Bridge, st.ID), Pid: st.Pid,
		StartTime: start, Ports: cfg.Ports, Created: time.Now().UTC()}
	n.Leases[st.ID] = l
	if err := s.Save(n); err != nil {
		return nil, nil, err
	}
	return n, l, nil
}

// networkFor returns the existing network of cfg.Bridge or a new one, whose
// subnet must not overlap any host route.
func networkFor(nets []*Network, cfg Config) (*Network, error) {
	for _, n := range nets {
		if n.Bridge != cfg.Bridge {
			continue
		}
		if cfg.Subnet.IsValid() && cfg.Subnet != n.Subnet {
			return nil, fmt.Errorf("network %s already has subnet %s, not %s", n.Bridge, n.Subnet, cfg.Subnet)
		}
		return n, nil
	}
	subnet := cfg.Subnet
	if !subnet.IsValid() {
		subnet = netip.MustParsePrefix(DefaultSubnet)
	}
	if err := checkSubnetFree(subnet, cfg.Bridge); err != nil {
		return nil, fmt.Errorf("network %s: %w", cfg.Bridge, err)
	}
	mtu := cfg.MTU
	if mtu == 0 {
		mtu = DefaultMTU
	}
	return newNetwork(cfg.Bridge, subnet, mtu), nil
}

func checkPortsFree(nets []*Network, ports []PortMapping) error {
	for _, p := range ports {
		for _, n := range nets {
			for _, l := range n.Leases {
				for _, q := range l.Ports {
					if q.HostPort == p.HostPort && q.Proto == p.Proto {
						return fmt.Errorf("host port %d/%s is already published by container %s on network %s",
							p.HostPort, p.Proto, l.ID, n.Bridge)
					}
				}
			}
		}
	}
	return nil
}

// build creates the bridge, veth, addresses and rules for a recorded lease.
func build(n *Network, l *Lease, ns netns.NsHandle, st specs.State, cfg Config, s *Store) error {
	if err := ensureBridge(n); err != nil {
		return err
	}
	if err := createVeth(n, l, ns); err != nil {
		return err
	}
	if err := configureContainer(n, l, ns); err != nil {
		return err
	}
	if err := ensureNetworkRules(n); err != nil {
		return err
	}
	if err := addPortRules(n, l); err != nil {
		return err
	}
	return writeFiles(s, n, l, st, cfg)
}

// release undoes a lease: veth, port rules, generated files, the lease
// itself; and with the last lease the network's table and bridge. Every
// step tolerates the object being gone already (idempotent teardown) and
// runs even if an earlier one failed.
func (s *Store) release(n *Network, l *Lease) error {
	errs := []error{
		deleteLink(l.HostVeth),
		deleteContainerRules(n.Bridge, l.ID),
		removeFiles(s, n.Bridge, l.ID),
	}
	delete(n.Leases, l.ID)
	if len(n.Leases) == 0 {
		errs = append(errs, deleteTable(n.Bridge), deleteBridge(n.Bridge, n.OwnsBridge))
	}
	errs = append(errs, s.Save(n))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("network %s: releasing %s: %w", n.Bridge, l.ID, err)
	}
	return nil
}

// reclaimStale releases the leases of containers that no longer exist.
func (s *Store) reclaimStale(nets []*Network) error {
	var errs []error
	for _, n := range nets {
		for _, l := range n.Leases {
			if !leaseAlive(l) {
				errs = append(errs, s.release(n, l))
			}
		}
	}
	return errors.Join(errs...)
}

// Teardown disconnects container st. It is idempotent: with no lease it
// still removes anything named after the container (a setup killed before
// or while it wrote its lease), and then succeeds.
func Teardown(st specs.State, cfg Config, stateDir string) error {
	if err := requireNetAdmin(); err != nil {
		return err
	}
	s, err := OpenStore(StateDir(stateDir))
	if err != nil {
		return err
	}
	defer s.Close()
	nets, err := s.Networks()
	if err != nil {
		return err
	}
	if n, l := leaseOwner(nets, st.ID); l != nil {
		return s.release(n, l)
	}
	errs := []error{deleteLink(vethName(cfg.Bridge, st.ID)), deleteContainerRules(cfg.Bridge, st.ID),
		removeFiles(s, cfg.Bridge, st.ID)}
	if networkOf(nets, cfg.Bridge) == nil && !bridgeInUse(cfg.Bridge) {
		errs = append(errs, deleteTable(cfg.Bridge), deleteBridge(cfg.Bridge, false))
	}
	return errors.Join(errs...)
}

func networkOf(nets []*Network, bridge string) *Network {
	for _, n := range nets {
		if n.Bridge == bridge {
			return n
		}
	}
	return nil
}

// bridgeInUse reports whether any interface is enslaved to bridge.
func bridgeInUse(bridge string) bool {
	br, err := netlink.LinkByName(bridge)
	if err != nil {
		return false
	}
	links, err := netlink.LinkList()
	if err != nil {
		return true // unknown: assume in use, never delete blindly
	}
	for _, l := range links {
		if l.Attrs().MasterIndex == br.Attrs().Index {
			return true
		}
	}
	return false
}

// requireNetAdmin fails early, before anything is touched, when the hook
// lacks CAP_NET_ADMIN (capabilities(7): needed for every link, address,
// route and nftables change here).
func requireNetAdmin() error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return fmt.Errorf("reading capabilities: %w", err)
	}
	if data[0].Effective&(1<<unix.CAP_NET_ADMIN) == 0 {
		return fmt.Errorf("the network hook needs CAP_NET_ADMIN (run the runtime as root): %w", unix.EPERM)
	}
	return nil
}

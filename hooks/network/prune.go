package network

import (
	"errors"
	"fmt"
	"slices"

	"github.com/vishvananda/netlink"
)

// PruneReport counts what Prune removed.
type PruneReport struct {
	Leases  []string // "bridge/id" of stale leases released
	Veths   []string // orphaned host veths deleted
	Rules   []string // "bridge/id" whose orphaned port rules were deleted
	Tables  []string // orphaned tables deleted
	Bridges []string // orphaned bridges deleted
}

// Prune removes everything orphaned: leases whose container is gone (with
// their veths and rules), our veths without a lease, port rules without a
// lease, and tables and bridges of networks that have no record. Objects
// of networks recorded in another state directory are left alone as long
// as they are in use (a bridge with ports, a veth attached to its bridge).
func Prune(stateDir string) (PruneReport, error) {
	var rep PruneReport
	if err := requireNetAdmin(); err != nil {
		return rep, err
	}
	s, err := OpenStore(StateDir(stateDir))
	if err != nil {
		return rep, err
	}
	defer s.Close()
	nets, err := s.Networks()
	if err != nil {
		return rep, err
	}
	var errs []error
	for _, n := range nets {
		for _, l := range n.Leases {
			if !leaseAlive(l) {
				rep.Leases = append(rep.Leases, n.Bridge+"/"+l.ID)
				errs = append(errs, s.release(n, l))
			}
		}
	}
	if nets, err = s.Networks(); err != nil {
		return rep, errors.Join(append(errs, err)...)
	}
	known := map[string]*Network{}
	for _, n := range nets {
		known[n.Bridge] = n
	}
	errs = append(errs, pruneVeths(known, &rep), pruneTables(known, &rep), pruneBridges(known, &rep))
	return rep, errors.Join(errs...)
}

func pruneVeths(known map[string]*Network, rep *PruneReport) error {
	veths, err := ourVeths()
	if err != nil {
		return err
	}
	var errs []error
	for name, owner := range veths {
		if !vethOrphaned(known, name, owner[0], owner[1]) {
			continue
		}
		rep.Veths = append(rep.Veths, name)
		errs = append(errs, deleteLink(name))
	}
	return errors.Join(errs...)
}

func vethOrphaned(known map[string]*Network, name, bridge, id string) bool {
	if n := known[bridge]; n != nil {
		l := n.Leases[id]
		return l == nil || l.HostVeth != name
	}
	// Unknown network: orphaned unless still attached to its live bridge.
	link, err := netlink.LinkByName(name)
	if err != nil {
		return false
	}
	br, err := netlink.LinkByName(bridge)
	return err != nil || link.Attrs().MasterIndex != br.Attrs().Index
}

func pruneTables(known map[string]*Network, rep *PruneReport) error {
	bridges, err := ourTables()
	if err != nil {
		return err
	}
	var errs []error
	for _, br := range bridges {
		n := known[br]
		if n == nil {
			if bridgeInUse(br) {
				continue
			}
			rep.Tables = append(rep.Tables, tablePrefix+br)
			errs = append(errs, deleteTable(br))
			continue
		}
		ids, err := publishedRules(br)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for id := range ids {
			if n.Leases[id] == nil {
				rep.Rules = append(rep.Rules, br+"/"+id)
				errs = append(errs, deleteContainerRules(br, id))
			}
		}
	}
	return errors.Join(errs...)
}

func pruneBridges(known map[string]*Network, rep *PruneReport) error {
	links, err := netlink.LinkList()
	if err != nil {
		return fmt.Errorf("listing links: %w", err)
	}
	var errs []error
	for _, l := range links {
		name := l.Attrs().Name
		if l.Type() != "bridge" || l.Attrs().Alias != bridgeAlias || known[name] != nil || bridgeInUse(name) {
			continue
		}
		rep.Bridges = append(rep.Bridges, name)
		errs = append(errs, deleteBridge(name, false))
	}
	return errors.Join(errs...)
}

// LeaseInfo is a lease with its liveness, for `gocker network ls`.
type LeaseInfo struct {
	Lease
	Alive bool `json:"alive"`
}

// NetworkInfo is one network for `gocker network ls`.
type NetworkInfo struct {
	Bridge  string      `json:"bridge"`
	Subnet  string      `json:"subnet"`
	Gateway string      `json:"gateway"`
	MTU     int         `json:"mtu"`
	Leases  []LeaseInfo `json:"leases"`
}

// List reads every network and lease in the state directory. It takes the
// store lock, so it never sees a half-done setup, but changes nothing.
func List(stateDir string) ([]NetworkInfo, error) {
	s, err := OpenStore(StateDir(stateDir))
	if err != nil {
		return nil, err
	}
	defer s.Close()
	nets, err := s.Networks()
	if err != nil {
		return nil, err
	}
	out := make([]NetworkInfo, 0, len(nets))
	for _, n := range nets {
		ni := NetworkInfo{Bridge: n.Bridge, Subnet: n.Subnet.String(), Gateway: n.Gateway.String(), MTU: n.MTU}
		for _, l := range n.Leases {
			ni.Leases = append(ni.Leases, LeaseInfo{Lease: *l, Alive: leaseAlive(l)})
		}
		sortLeases(ni.Leases)
		out = append(out, ni)
	}
	return out, nil
}

func sortLeases(ls []LeaseInfo) {
	slices.SortFunc(ls, func(a, b LeaseInfo) int { return a.IP.Compare(b.IP) })
}

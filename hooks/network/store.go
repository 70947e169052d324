package network

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"time"

	"golang.org/x/sys/unix"
)

// Lease is one container's claim on a network. It records everything
// teardown needs, so teardown works from the lease alone after a crash.
type Lease struct {
	ID        string        `json:"id"`
	IP        netip.Addr    `json:"ip"`
	HostVeth  string        `json:"hostVeth"`
	Pid       int           `json:"pid"`
	StartTime uint64        `json:"startTime"` // field 22 of /proc/<pid>/stat, guards pid reuse
	Ports     []PortMapping `json:"ports,omitempty"`
	Created   time.Time     `json:"created"`
}

// Network is one bridge with its subnet and leases; it exists exactly as
// long as it has leases (see README.md, "Lifetime").
type Network struct {
	Bridge  string       `json:"bridge"`
	Subnet  netip.Prefix `json:"subnet"`
	Gateway netip.Addr   `json:"gateway"`
	MTU     int          `json:"mtu"`
	// OwnsBridge is recorded before the bridge is created, so a hook killed
	// between creating it and marking it with our alias still lets teardown
	// know the bridge is ours to delete.
	OwnsBridge bool              `json:"ownsBridge"`
	Leases     map[string]*Lease `json:"leases"`
}

// Store is the lease store under one state directory. A Store value holds
// the directory's exclusive flock until Close: every hook invocation is a
// short-lived process, and one lock for all networks keeps cross-network
// checks (subnet overlap, published ports) race-free.
type Store struct {
	dir  string
	lock *os.File
}

// StateDir returns the state directory: override, else $GOCKER_NETWORK_STATE,
// else DefaultStateDir.
func StateDir(override string) string {
	if override != "" {
		return override
	}
	if d := os.Getenv(StateDirEnv); d != "" {
		return d
	}
	return DefaultStateDir
}

// OpenStore creates dir if needed and locks it. flock (not fcntl) locks
// belong to the open file description, so the lock is released by the
// kernel if the hook is SIGKILLed.
func OpenStore(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("network state dir %s: %w", dir, err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("network state lock: %w", err)
	}
	if err := flockRetry(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("network state lock %s: %w", f.Name(), err)
	}
	return &Store{dir: dir, lock: f}, nil
}

func flockRetry(f *os.File) error {
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

// Close releases the lock.
func (s *Store) Close() error { return s.lock.Close() }

func (s *Store) leasePath(bridge string) string {
	return filepath.Join(s.dir, bridge, "leases.json")
}

// Load returns the network of bridge, or nil if it has no record.
func (s *Store) Load(bridge string) (*Network, error) {
	b, err := os.ReadFile(s.leasePath(bridge))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("network %s: reading leases: %w", bridge, err)
	}
	var n Network
	if err := json.Unmarshal(b, &n); err != nil {
		return nil, fmt.Errorf("network %s: corrupt %s: %w", bridge, s.leasePath(bridge), err)
	}
	if n.Leases == nil {
		n.Leases = map[string]*Lease{}
	}
	return &n, nil
}

// Networks loads every network in the store, sorted by bridge.
func (s *Store) Networks() ([]*Network, error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("network state dir: %w", err)
	}
	var out []*Network
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		n, err := s.Load(e.Name())
		if err != nil {
			return nil, err
		}
		if err := s.sweep(e.Name(), n == nil); err != nil {
			return nil, err
		}
		if n != nil {
			out = append(out, n)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Bridge < out[j].Bridge })
	return out, nil
}

// sweep removes what a writer killed mid-Save leaves: temp files, or a
// whole network directory that never got its leases.json. Safe because we
// hold the store lock, so no Save is in progress.
func (s *Store) sweep(bridge string, noRecord bool) error {
	dir := filepath.Join(s.dir, bridge)
	if noRecord {
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("network %s: removing partial state: %w", bridge, err)
		}
		return nil
	}
	tmps, _ := filepath.Glob(filepath.Join(dir, ".tmp-*"))
	for _, p := range tmps {
		if err := os.Remove(p); err != nil {
			return fmt.Errorf("network %s: removing %s: %w", bridge, p, err)
		}
	}
	return nil
}

// Save writes n through a temp file and rename, so a crash leaves either the
// old or the new file, never a torn one. A network without leases is
// removed instead.
func (s *Store) Save(n *Network) error {
	dir := filepath.Dir(s.leasePath(n.Bridge))
	if len(n.Leases) == 0 {
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("network %s: removing state: %w", n.Bridge, err)
		}
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("network %s: state dir: %w", n.Bridge, err)
	}
	b, err := json.MarshalIndent(n, "", "  ")
	if err != nil {
		return fmt.Errorf("network %s: encoding leases: %w", n.Bridge, err)
	}
	return writeAtomic(s.leasePath(n.Bridge), b)
}

func writeAtomic(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path))
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if _, err := tmp.Write(b); err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// newNetwork builds the record of a network that does not exist yet; the
// gateway (the bridge's own address) is the first host address.
func newNetwork(bridge string, subnet netip.Prefix, mtu int) *Network {
	return &Network{
		Bridge:  bridge,
		Subnet:  subnet,
		Gateway: subnet.Addr().Next(),
		MTU:     mtu,
		Leases:  map[string]*Lease{},
	}
}

// allocate picks want if given and free, else the lowest free address.
// Network and broadcast addresses and the gateway are never handed out.
func (n *Network) allocate(want netip.Addr) (netip.Addr, error) {
	used := map[netip.Addr]string{n.Gateway: "the bridge"}
	for id, l := range n.Leases {
		used[l.IP] = "container " + id
	}
	first, last := n.Gateway.Next(), lastHost(n.Subnet)
	if want.IsValid() {
		if !n.Subnet.Contains(want) || want.Less(first) || last.Less(want) {
			return netip.Addr{}, fmt.Errorf("network %s: address %s is not a usable host address of %s", n.Bridge, want, n.Subnet)
		}
		if who, ok := used[want]; ok {
			return netip.Addr{}, fmt.Errorf("network %s: address %s is already used by %s", n.Bridge, want, who)
		}
		return want, nil
	}
	for a := first; !last.Less(a); a = a.Next() {
		if _, ok := used[a]; !ok {
			return a, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("network %s: address pool %s exhausted (%d containers hold all its addresses)",
		n.Bridge, n.Subnet, len(n.Leases))
}

// lastHost is the address before the subnet's broadcast address.
func lastHost(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As4()
	hostBits := 32 - p.Bits()
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	v |= (1 << hostBits) - 1 // broadcast
	v--
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// leaseOwner finds the network holding a lease for id.
func leaseOwner(nets []*Network, id string) (*Network, *Lease) {
	for _, n := range nets {
		if l, ok := n.Leases[id]; ok {
			return n, l
		}
	}
	return nil, nil
}

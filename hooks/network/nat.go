package network

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"golang.org/x/sys/unix"
)

// Each network owns one nftables table, "ip gocker_<bridge>". Owning a whole
// table (instead of rules in a shared one) means deleting the network is a
// single atomic DELTABLE that can never remove another network's rules, and
// nothing of ours ever sits in the user's own tables.
const tablePrefix = "gocker_"

// Chain names inside a network's table.
const (
	chainPre   = "prerouting"  // nat: DNAT for published ports, traffic from outside
	chainOut   = "output"      // nat: DNAT for published ports, the host's own connections
	chainPost  = "postrouting" // nat: masquerade
	chainGuard = "guard"       // filter at raw priority: see guardRule
)

// Comments (NFTNL_UDATA_RULE_COMMENT, shown by `nft list`) identify rules.
const ctrCommentPfx = "gocker ctr " // + id + " " + port

func natTable(bridge string) *nftables.Table {
	return &nftables.Table{Name: tablePrefix + bridge, Family: nftables.TableFamilyIPv4}
}

func chainsOf(t *nftables.Table) map[string]*nftables.Chain {
	nat, filter := nftables.ChainTypeNAT, nftables.ChainTypeFilter
	return map[string]*nftables.Chain{
		chainPre:   {Name: chainPre, Table: t, Type: nat, Hooknum: nftables.ChainHookPrerouting, Priority: nftables.ChainPriorityNATDest},
		chainOut:   {Name: chainOut, Table: t, Type: nat, Hooknum: nftables.ChainHookOutput, Priority: nftables.ChainPriorityNATDest},
		chainPost:  {Name: chainPost, Table: t, Type: nat, Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource},
		chainGuard: {Name: chainGuard, Table: t, Type: filter, Hooknum: nftables.ChainHookPrerouting, Priority: nftables.ChainPriorityRaw},
	}
}

func comment(s string) []byte { return userdata.AppendString(nil, userdata.TypeComment, s) }

func ruleComment(r *nftables.Rule) string {
	s, _ := userdata.GetString(r.UserData, userdata.TypeComment)
	return s
}

func tableExists(c *nftables.Conn, name string) (bool, error) {
	ts, err := c.ListTablesOfFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return false, fmt.Errorf("nftables: listing tables: %w", err)
	}
	for _, t := range ts {
		if t.Name == name {
			return true, nil
		}
	}
	return false, nil
}

// ensureNetworkRules creates the network's table with its chains and
// network-wide rules in one batch. nf_tables applies a batch atomically, so
// if the table exists (even after a crash) its base rules exist too.
func ensureNetworkRules(n *Network) error {
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	t := natTable(n.Bridge)
	if ok, err := tableExists(c, t.Name); err != nil || ok {
		return err
	}
	c.AddTable(t)
	chains := chainsOf(t)
	for _, name := range []string{chainPre, chainOut, chainPost, chainGuard} {
		c.AddChain(chains[name])
	}
	for _, r := range networkRules(n, chains) {
		c.AddRule(r)
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables: creating table ip %s: %w", t.Name, err)
	}
	return nil
}

func networkRules(n *Network, chains map[string]*nftables.Chain) []*nftables.Rule {
	loopback := netip.MustParsePrefix("127.0.0.0/8")
	post := chains[chainPost]
	var exprs [][]expr.Any
	// Containers' connections leaving the subnet leave with the host's address.
	exprs = append(exprs, cat(matchPrefix(12, n.Subnet, expr.CmpOpEq), matchPrefix(16, n.Subnet, expr.CmpOpNeq), masq()))
	// Published ports reached through 127.0.0.1: the container cannot answer
	// a loopback source, so the reply address becomes the gateway.
	exprs = append(exprs, cat(matchIfname(expr.MetaKeyOIFNAME, n.Bridge), ctDNAT(), matchPrefix(12, loopback, expr.CmpOpEq), masq()))
	// Hairpin: a container reaching a published port of its own network.
	exprs = append(exprs, cat(matchIfname(expr.MetaKeyOIFNAME, n.Bridge), ctDNAT(), matchPrefix(12, n.Subnet, expr.CmpOpEq), masq()))
	names := []string{"masquerade " + n.Subnet.String(), "published ports via loopback", "hairpin"}
	var rules []*nftables.Rule
	for i, e := range exprs {
		rules = append(rules, &nftables.Rule{Table: post.Table, Chain: post, Exprs: e, UserData: comment("gocker net " + names[i])})
	}
	return append(rules, guardRule(n, chains[chainGuard], loopback))
}

// guardRule drops packets from containers addressed to 127.0.0.0/8.
// route_localnet on the bridge (needed for loopback DNAT) would otherwise let
// a container with CAP_NET_ADMIN reach the host's loopback-only services
// (the kube-proxy CVE-2020-8558 pattern).
func guardRule(n *Network, ch *nftables.Chain, loopback netip.Prefix) *nftables.Rule {
	e := cat(matchIfname(expr.MetaKeyIIFNAME, n.Bridge), matchPrefix(16, loopback, expr.CmpOpEq),
		[]expr.Any{&expr.Verdict{Kind: expr.VerdictDrop}})
	return &nftables.Rule{Table: ch.Table, Chain: ch, Exprs: e, UserData: comment("gocker net loopback guard")}
}

// addPortRules publishes l's ports: DNAT in prerouting (from other hosts and
// containers) and in output (the host's own connections, which never pass
// prerouting), both for any local destination address.
func addPortRules(n *Network, l *Lease) error {
	if len(l.Ports) == 0 {
		return nil
	}
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	chains := chainsOf(natTable(n.Bridge))
	for _, p := range l.Ports {
		for _, ch := range []*nftables.Chain{chains[chainPre], chains[chainOut]} {
			c.AddRule(&nftables.Rule{Table: ch.Table, Chain: ch, Exprs: dnatExprs(l.IP, p),
				UserData: comment(ctrCommentPfx + l.ID + " " + p.String())})
		}
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables: publishing ports of %s: %w", l.ID, err)
	}
	return nil
}

func dnatExprs(ip netip.Addr, p PortMapping) []expr.Any {
	proto := byte(unix.IPPROTO_TCP)
	if p.Proto == "udp" {
		proto = unix.IPPROTO_UDP
	}
	return []expr.Any{
		&expr.Fib{Register: 1, FlagDADDR: true, ResultADDRTYPE: true},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(unix.RTN_LOCAL)},
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(p.HostPort)},
		&expr.Immediate{Register: 1, Data: ip.AsSlice()},
		&expr.Immediate{Register: 2, Data: binaryutil.BigEndian.PutUint16(p.ContainerPort)},
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1, RegProtoMin: 2},
	}
}

// deleteContainerRules removes every rule whose comment names container id.
// A missing table means nothing to do.
func deleteContainerRules(bridge, id string) error {
	return deleteRulesWhere(bridge, func(cm string) bool { return strings.HasPrefix(cm, ctrCommentPfx+id+" ") })
}

func deleteRulesWhere(bridge string, match func(comment string) bool) error {
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	t := natTable(bridge)
	if ok, err := tableExists(c, t.Name); err != nil || !ok {
		return err
	}
	n := 0
	for _, ch := range []*nftables.Chain{{Name: chainPre, Table: t}, {Name: chainOut, Table: t}} {
		rules, err := c.GetRules(t, ch)
		if err != nil {
			return fmt.Errorf("nftables: listing ip %s %s: %w", t.Name, ch.Name, err)
		}
		for _, r := range rules {
			if match(ruleComment(r)) {
				if err := c.DelRule(r); err != nil {
					return fmt.Errorf("nftables: %w", err)
				}
				n++
			}
		}
	}
	if n == 0 {
		return nil
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables: deleting rules in ip %s: %w", t.Name, err)
	}
	return nil
}

// publishedRules lists container ids that have port rules in bridge's table.
func publishedRules(bridge string) (map[string]bool, error) {
	ids := map[string]bool{}
	err := deleteRulesWhere(bridge, func(cm string) bool {
		if rest, ok := strings.CutPrefix(cm, ctrCommentPfx); ok {
			id, _, _ := strings.Cut(rest, " ")
			ids[id] = true
		}
		return false
	})
	return ids, err
}

// deleteTable removes a network's table, with all its rules, if present.
func deleteTable(bridge string) error {
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	t := natTable(bridge)
	if ok, err := tableExists(c, t.Name); err != nil || !ok {
		return err
	}
	c.DelTable(t)
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables: deleting table ip %s: %w", t.Name, err)
	}
	return nil
}

// ourTables lists the bridges that have a gocker table.
func ourTables() ([]string, error) {
	c, err := nftables.New()
	if err != nil {
		return nil, fmt.Errorf("nftables: %w", err)
	}
	ts, err := c.ListTablesOfFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return nil, fmt.Errorf("nftables: listing tables: %w", err)
	}
	var out []string
	for _, t := range ts {
		if br, ok := strings.CutPrefix(t.Name, tablePrefix); ok {
			out = append(out, br)
		}
	}
	return out, nil
}

func cat(parts ...[]expr.Any) []expr.Any {
	var out []expr.Any
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// matchPrefix compares the IPv4 source (offset 12) or destination (16).
func matchPrefix(offset uint32, p netip.Prefix, op expr.CmpOp) []expr.Any {
	mask := make([]byte, 4)
	binary.BigEndian.PutUint32(mask, ^uint32(0)<<(32-p.Bits()))
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask, Xor: make([]byte, 4)},
		&expr.Cmp{Op: op, Register: 1, Data: p.Masked().Addr().AsSlice()},
	}
}

func matchIfname(key expr.MetaKey, name string) []expr.Any {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, name)
	return []expr.Any{&expr.Meta{Key: key, Register: 1}, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: b}}
}

// ctDNAT matches connections whose destination was rewritten (IPS_DST_NAT).
func ctDNAT() []expr.Any {
	return []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATUS},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(0x20), Xor: make([]byte, 4)}, // IPS_DST_NAT
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: make([]byte, 4)},
	}
}

func masq() []expr.Any { return []expr.Any{&expr.Masq{}} }

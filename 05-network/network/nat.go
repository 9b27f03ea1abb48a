package network

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/01-namespaces/namespace"
)

// Each bridge gets one nftables table, "berth-<bridge>", in the ip (IPv4)
// family. In nft's notation it reads:
//
//	table ip berth-berth0 {
//	  chain prerouting {    # packets from other hosts
//	    type nat hook prerouting priority dstnat
//	    fib daddr type local jump publish
//	  }
//	  chain output {        # connections made on the host itself
//	    type nat hook output priority dstnat
//	    fib daddr type local jump publish
//	  }
//	  chain publish {       # one rule per published port
//	    ip daddr 127.0.0.1 tcp dport 8080 dnat to 10.88.0.2:80 comment "<container id>"
//	  }
//	  chain postrouting {
//	    type nat hook postrouting priority srcnat
//	    ip saddr 10.88.0.0/16 oifname != "berth0" masquerade   # not if internal
//	    ip saddr 127.0.0.0/8 oifname "berth0" masquerade
//	    ip saddr 10.88.0.0/16 oifname "berth0" ct status dnat masquerade
//	  }
//	  chain forward {       # isolation: see addIsolation
//	    type filter hook forward priority filter
//	    ...
//	  }
//	  chain input {         # the network's DNS server: see addInput
//	    type filter hook input priority filter
//	    iifname != "berth0" ip daddr 10.88.0.0/16 udp dport 53 drop
//	    iifname != "berth0" ip daddr 10.88.0.0/16 tcp dport 53 drop
//	  }
//	}
//
// A table of its own keeps berth's rules apart from the host's firewall
// and from other bridges' tables (tests running side by side each have
// their own), and removing a bridge removes its table whole.

// TableName is the nftables table (family ip) that holds the bridge's
// rules.
func TableName(bridge string) string { return "berth-" + bridge }

const publishChain = "publish"

var loopbackNet = netip.MustParsePrefix("127.0.0.0/8")

// ipsDstNAT is conntrack's IPS_DST_NAT status bit: the connection's
// destination was rewritten (nft's `ct status dnat`).
const ipsDstNAT = 1 << 5

func table(bridge string) *nftables.Table {
	return &nftables.Table{Name: TableName(bridge), Family: nftables.TableFamilyIPv4}
}

// bridgeSpec is what a bridge's table is written from.
type bridgeSpec struct {
	Name     string
	Subnet   netip.Prefix
	Internal bool // no way out: no masquerade, forwarding out dropped
}

// addTable queues, on c, the messages that create the bridge's table and
// chains and (re)write the rules that are not a container's own.
//
// Two programs may set up the same table at the same moment. "add table"
// and "add chain" succeed when the object exists, and the base chains are
// flushed and refilled in the same batch: nftables applies a batch as one
// transaction, so however the batches interleave, each base chain ends up
// with exactly one copy of its rules. The publish chain, which holds the
// containers' rules, is only ever added to and deleted from by rule.
func addTable(c *nftables.Conn, br bridgeSpec) {
	t := c.AddTable(table(br.Name))
	publish := c.AddChain(&nftables.Chain{Name: publishChain, Table: t})
	hooks := []struct {
		name string
		typ  nftables.ChainType
		hook *nftables.ChainHook
		prio *nftables.ChainPriority
	}{
		{"prerouting", nftables.ChainTypeNAT, nftables.ChainHookPrerouting, nftables.ChainPriorityNATDest},
		{"output", nftables.ChainTypeNAT, nftables.ChainHookOutput, nftables.ChainPriorityNATDest},
		{"postrouting", nftables.ChainTypeNAT, nftables.ChainHookPostrouting, nftables.ChainPriorityNATSource},
		{"forward", nftables.ChainTypeFilter, nftables.ChainHookForward, nftables.ChainPriorityFilter},
		{"input", nftables.ChainTypeFilter, nftables.ChainHookInput, nftables.ChainPriorityFilter},
	}
	chains := map[string]*nftables.Chain{}
	for _, h := range hooks {
		ch := c.AddChain(&nftables.Chain{Name: h.name, Table: t, Type: h.typ, Hooknum: h.hook, Priority: h.prio})
		c.FlushChain(ch)
		chains[h.name] = ch
	}

	// Only packets addressed to the host itself are candidates for a
	// published port: without this test, a container's connection to
	// some remote server's port 8080 would be caught by a rule for the
	// host's port 8080. PREROUTING sees packets from other hosts (and
	// from containers); OUTPUT sees connections made on the host, which
	// never pass PREROUTING (pitfall 10).
	jump := []expr.Any{
		&expr.Fib{Register: 1, FlagDADDR: true, ResultADDRTYPE: true},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(unix.RTN_LOCAL)},
		&expr.Verdict{Kind: expr.VerdictJump, Chain: publish.Name},
	}
	c.AddRule(&nftables.Rule{Table: t, Chain: chains["prerouting"], Exprs: jump})
	c.AddRule(&nftables.Rule{Table: t, Chain: chains["output"], Exprs: jump})
	addMasquerade(c, t, chains["postrouting"], br)
	addIsolation(c, t, chains["forward"], br)
	addInput(c, t, chains["input"], br)
}

// addInput fills the input chain: the DNS server that berthd runs for a
// user network listens on the gateway, an address of the host (see
// package dns), and would answer, and forward for, anyone who can send
// the host a packet addressed there: another machine of the LAN with a
// route through this host, say, which would make it an open resolver.
// Only the network's own containers, whose queries come in through the
// bridge, may reach it. The host's only addresses in the subnet are the
// gateway's, so the rules need not name it.
//
//	iifname != BR ip daddr SUBNET udp dport 53 drop
//	iifname != BR ip daddr SUBNET tcp dport 53 drop
func addInput(c *nftables.Conn, t *nftables.Table, ch *nftables.Chain, br bridgeSpec) {
	for _, proto := range []byte{unix.IPPROTO_UDP, unix.IPPROTO_TCP} {
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: concat(
			matchInInterface(br.Name, expr.CmpOpNeq),
			matchDestination(br.Subnet),
			matchDestPort(proto, 53),
			[]expr.Any{&expr.Verdict{Kind: expr.VerdictDrop}},
		)})
	}
}

// addMasquerade fills the postrouting chain.
func addMasquerade(c *nftables.Conn, t *nftables.Table, ch *nftables.Chain, br bridgeSpec) {
	// A container's packet leaving the host by any other interface gets
	// the host's address as its source, because nobody out there knows
	// the way back to 10.88.0.0/16. Conntrack remembers the rewrite and
	// undoes it on the replies. An internal network has no way out.
	if !br.Internal {
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: concat(
			matchSource(br.Subnet),
			matchOutInterface(br.Name, expr.CmpOpNeq),
			[]expr.Any{&expr.Masq{}},
		)})
	}
	// A connection from the host's 127.0.0.1 to a published port keeps
	// 127.0.0.1 as its source after the DNAT. The container would answer
	// its own loopback; masquerading gives it the gateway's address
	// instead, so the answer comes back over the bridge.
	c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: concat(
		matchSource(loopbackNet),
		matchOutInterface(br.Name, expr.CmpOpEq),
		[]expr.Any{&expr.Masq{}},
	)})
	// Hairpin: a container's connection to a published port of the host
	// that DNAT sends back onto the same bridge. Without a rewrite of
	// the source, the server answers the client directly over the
	// bridge, a frame the host's conntrack never sees (bridged traffic
	// skips netfilter unless br_netfilter is loaded), from an address
	// the client never called: the client drops it. Masqueraded, the
	// connection comes from the gateway, and the answer is routed back
	// through the host, where conntrack undoes both rewrites. The
	// packet itself is routed out by the bridge's own interface, not
	// sent back out of the port it came in by, so the bridge ports need
	// no hairpin mode.
	c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: concat(
		matchSource(br.Subnet),
		matchOutInterface(br.Name, expr.CmpOpEq),
		matchCtStatus(ipsDstNAT),
		[]expr.Any{&expr.Masq{}},
	)})
}

// addIsolation fills the forward chain: what other interfaces (another
// bridge, the way out) may send into this bridge, and, for an internal
// network, what it may send out.
//
//	oifname BR iifname != BR ct state established,related accept
//	oifname BR iifname != BR ct status dnat accept
//	oifname BR iifname != BR drop
//	iifname BR oifname != BR drop          (internal networks only)
//
// Each bridge guards its own way in, so no table needs to know the
// others: a container of another network (or of no berth network at all)
// cannot open a connection to this one's containers, only answer theirs
// or reach them through a published port (DNAT). Traffic between two
// containers of the same bridge never comes here: the bridge switches it.
func addIsolation(c *nftables.Conn, t *nftables.Table, ch *nftables.Chain, br bridgeSpec) {
	in := concat(matchOutInterface(br.Name, expr.CmpOpEq), matchInInterface(br.Name, expr.CmpOpNeq))
	accept := []expr.Any{&expr.Verdict{Kind: expr.VerdictAccept}}
	drop := []expr.Any{&expr.Verdict{Kind: expr.VerdictDrop}}
	c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: concat(in, matchCtState(expr.CtStateBitESTABLISHED|expr.CtStateBitRELATED), accept)})
	c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: concat(in, matchCtStatus(ipsDstNAT), accept)})
	c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: concat(in, drop)})
	if br.Internal {
		out := concat(matchInInterface(br.Name, expr.CmpOpEq), matchOutInterface(br.Name, expr.CmpOpNeq))
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: concat(out, drop)})
	}
}

// matchCtState is `ct state BITS` (any of them).
func matchCtState(bits uint32) []expr.Any {
	return matchCt(expr.CtKeySTATE, bits)
}

// matchCtStatus is `ct status BITS` (any of them): IPS_DST_NAT is dnat.
func matchCtStatus(bits uint32) []expr.Any {
	return matchCt(expr.CtKeySTATUS, bits)
}

func matchCt(key expr.CtKey, bits uint32) []expr.Any {
	zero := make([]byte, 4)
	return []expr.Any{
		&expr.Ct{Register: 1, Key: key},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: binaryutil.NativeEndian.PutUint32(bits), Xor: zero},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: zero},
	}
}

// addPortRules queues one DNAT rule per mapping, tagged with the
// container's ID as its comment so that deletePortRules finds them.
func addPortRules(c *nftables.Conn, bridge, id string, ip netip.Addr, ports []PortMapping) {
	t := table(bridge)
	ch := &nftables.Chain{Name: publishChain, Table: t}
	for _, m := range ports {
		c.AddRule(&nftables.Rule{
			Table:    t,
			Chain:    ch,
			Exprs:    dnatExprs(m, ip),
			UserData: userdata.AppendString(nil, userdata.TypeComment, id),
		})
	}
}

// dnatExprs is `[ip daddr HOSTIP] PROTO dport HOSTPORT dnat to IP:CONTAINERPORT`.
func dnatExprs(m PortMapping, ip netip.Addr) []expr.Any {
	var e []expr.Any
	if !m.AllAddresses() {
		e = append(e,
			// the IPv4 destination address: 4 bytes at offset 16
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: m.HostIP.AsSlice()},
		)
	}
	proto := byte(unix.IPPROTO_TCP)
	if m.Protocol == "udp" {
		proto = unix.IPPROTO_UDP
	}
	to := ip.As4()
	e = append(e, matchDestPort(proto, m.HostPort)...)
	return append(e,
		&expr.Immediate{Register: 1, Data: to[:]},
		&expr.Immediate{Register: 2, Data: binary.BigEndian.AppendUint16(nil, m.ContainerPort)},
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1, RegProtoMin: 2},
	)
}

// matchSource is `ip saddr PREFIX`: the source address (offset 12), masked.
func matchSource(p netip.Prefix) []expr.Any {
	mask := prefixIPNet(p).Mask
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask, Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: p.Addr().AsSlice()},
	}
}

// matchDestination is `ip daddr PREFIX`: the destination address
// (offset 16), masked.
func matchDestination(p netip.Prefix) []expr.Any {
	mask := prefixIPNet(p).Mask
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask, Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: p.Addr().AsSlice()},
	}
}

// matchDestPort is `PROTO dport PORT` (PROTO: IPPROTO_TCP or _UDP).
func matchDestPort(proto byte, port uint16) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
		// the destination port: 2 bytes at offset 2 of the TCP or UDP header
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binary.BigEndian.AppendUint16(nil, port)},
	}
}

// matchOutInterface is `oifname [!=] NAME`.
func matchOutInterface(name string, op expr.CmpOp) []expr.Any {
	return matchInterface(expr.MetaKeyOIFNAME, name, op)
}

// matchInInterface is `iifname [!=] NAME`.
func matchInInterface(name string, op expr.CmpOp) []expr.Any {
	return matchInterface(expr.MetaKeyIIFNAME, name, op)
}

func matchInterface(key expr.MetaKey, name string, op expr.CmpOp) []expr.Any {
	padded := make([]byte, unix.IFNAMSIZ) // the kernel compares all 16 bytes
	copy(padded, name)
	return []expr.Any{
		&expr.Meta{Key: key, Register: 1},
		&expr.Cmp{Op: op, Register: 1, Data: padded},
	}
}

func concat(parts ...[]expr.Any) []expr.Any {
	var all []expr.Any
	for _, p := range parts {
		all = append(all, p...)
	}
	return all
}

// installRules creates the bridge's table (if needed) and the container's
// DNAT rules, in one transaction.
//
// A container that publishes no port needs only the table (for the
// masquerade rules), and once the first container has made it, it is
// there whole: a transaction creates a table with its chains and rules or
// not at all. So that container costs one lookup, not a commit of the
// table (an nftables commit waits for the kernel to apply the batch, a
// millisecond or more, on the path of every start).
func installRules(br bridgeSpec, id string, ip netip.Addr, ports []PortMapping) error {
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	if len(ports) == 0 {
		t := table(br.Name)
		if _, err := c.ListTableOfFamily(t.Name, t.Family); err == nil {
			return nil
		}
	}
	addTable(c, br)
	addPortRules(c, br.Name, id, ip, ports)
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables table %s: %w", TableName(br.Name), err)
	}
	return nil
}

// installTable creates or rewrites the bridge's table (a network's
// creation): everything but the containers' rules.
func installTable(br bridgeSpec) error {
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	addTable(c, br)
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables table %s: %w", TableName(br.Name), err)
	}
	return nil
}

// portRules returns the rules in the bridge's publish chain that belong
// to container id, or none if the table does not exist.
func portRules(c *nftables.Conn, bridge, id string) ([]*nftables.Rule, error) {
	t := table(bridge)
	// GetRules does not keep the kernel's error (ENOENT) for a missing
	// table, so look for the table first.
	if _, err := c.ListTableOfFamily(t.Name, t.Family); errors.Is(err, unix.ENOENT) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("nftables table %s: %w", t.Name, err)
	}
	rules, err := c.GetRules(t, &nftables.Chain{Name: publishChain, Table: t})
	if err != nil {
		return nil, fmt.Errorf("listing rules of table %s: %w", TableName(bridge), err)
	}
	var mine []*nftables.Rule
	for _, r := range rules {
		if comment, ok := userdata.GetString(r.UserData, userdata.TypeComment); ok && comment == id {
			mine = append(mine, r)
		}
	}
	return mine, nil
}

// deletePortRules deletes container id's rules from the bridge's table.
func deletePortRules(bridge, id string) error {
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	rules, err := portRules(c, bridge, id)
	if err != nil || len(rules) == 0 {
		return err
	}
	for _, r := range rules {
		if err := c.DelRule(r); err != nil {
			return fmt.Errorf("deleting rule %d of table %s: %w", r.Handle, TableName(bridge), err)
		}
	}
	if err := c.Flush(); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("deleting rules of container %s from table %s: %w", namespace.ShortID(id), TableName(bridge), err)
	}
	return nil
}

// deleteTable deletes the bridge's table, if it exists.
func deleteTable(bridge string) error {
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	c.DelTable(table(bridge))
	if err := c.Flush(); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("deleting nftables table %s: %w", TableName(bridge), err)
	}
	return nil
}

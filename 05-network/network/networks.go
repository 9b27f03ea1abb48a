package network

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/berth-project/berth/01-namespaces/namespace"
)

// Network is a user-defined network (docker network create): a bridge of
// its own with a subnet of its own. Containers on one network reach each
// other; containers on different networks do not (see isolation in
// nat.go). It is recorded under the root directory from CreateNetwork to
// RemoveNetwork:
//
//	<root>/network/networks/<id>.json
type Network struct {
	ID     string `json:"id"` // 64 hex digits
	Name   string `json:"name"`
	Driver string `json:"driver"` // "bridge", the only one
	// Bridge is the Linux bridge device: br-<first 12 digits of the ID>,
	// as Docker names it, or the com.docker.network.bridge.name option.
	Bridge  string       `json:"bridge"`
	Subnet  netip.Prefix `json:"subnet"`
	Gateway netip.Addr   `json:"gateway"`
	// IPRange narrows the addresses given to containers without a
	// static one; the zero value is the whole subnet.
	IPRange netip.Prefix `json:"ipRange,omitzero"`
	// Internal networks have no way out: no masquerade, and whatever a
	// container sends to another interface than the bridge is dropped.
	Internal bool `json:"internal,omitempty"`
	// Attachable is recorded and shown, as Docker does for a local
	// network: it means something to swarm services only.
	Attachable bool              `json:"attachable,omitempty"`
	Labels     map[string]string `json:"labels,omitempty"`
	Options    map[string]string `json:"options,omitempty"`
	Created    time.Time         `json:"created"`
}

// DefaultNetwork is the name of the network of Config's bridge (berth0
// unless --bridge says otherwise), Docker's "bridge".
const DefaultNetwork = "bridge"

// BridgeNameOption names the network's bridge device, as in Docker.
const BridgeNameOption = "com.docker.network.bridge.name"

// Errors of the network registry, wrapped by the errors it returns.
var (
	ErrNetworkNotFound = errors.New("network not found")
	ErrNetworkExists   = errors.New("network exists")
	ErrNetworkInUse    = errors.New("network has active endpoints")
)

// NetworkSpec is what `network create` asks for. Zero fields are picked:
// the subnet from Pools, the gateway as the subnet's first address.
type NetworkSpec struct {
	Name       string
	Subnet     netip.Prefix
	Gateway    netip.Addr
	IPRange    netip.Prefix
	Internal   bool
	Attachable bool
	Labels     map[string]string
	Options    map[string]string
	// Pools are where a subnet is picked from when Subnet is zero; nil
	// means DefaultPools.
	Pools []netip.Prefix
}

var validName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// Check reports a spec that cannot be created, before anything is: a bad
// name, an option berth does not apply, a gateway or range outside the
// subnet.
func (spec *NetworkSpec) Check() error {
	if !validName.MatchString(spec.Name) {
		return fmt.Errorf("network name %q: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", spec.Name)
	}
	if slices.Contains([]string{DefaultNetwork, "host", "none", "default"}, spec.Name) {
		return fmt.Errorf("network with name %s already exists: %w", spec.Name, ErrNetworkExists)
	}
	for k, v := range spec.Options {
		if k != BridgeNameOption {
			return fmt.Errorf("network option %s is not supported (only %s)", k, BridgeNameOption)
		}
		if err := validBridgeName(v); err != nil {
			return err
		}
	}
	if !spec.Subnet.IsValid() {
		if spec.Gateway.IsValid() || spec.IPRange.IsValid() {
			return errors.New("a gateway or an IP range needs a subnet (--subnet)")
		}
		return nil
	}
	if err := checkSubnet(spec.Subnet); err != nil {
		return err
	}
	if spec.Gateway.IsValid() {
		if err := checkHostAddr(spec.Subnet, spec.Gateway); err != nil {
			return fmt.Errorf("gateway: %w", err)
		}
	}
	if r := spec.IPRange; r.IsValid() {
		if r.Masked() != r || !r.Addr().Is4() || r.Bits() < spec.Subnet.Bits() || !spec.Subnet.Contains(r.Addr()) {
			return fmt.Errorf("IP range %s: not a network inside subnet %s", r, spec.Subnet)
		}
	}
	return nil
}

// checkHostAddr fails unless a can be given to an interface of subnet:
// not the subnet's own address, not its broadcast address.
func checkHostAddr(subnet netip.Prefix, a netip.Addr) error {
	if !a.Is4() || !subnet.Contains(a) {
		return fmt.Errorf("address %s is not in subnet %s", a, subnet)
	}
	if a == subnet.Addr() || !subnet.Contains(a.Next()) {
		return fmt.Errorf("address %s is the network or broadcast address of %s", a, subnet)
	}
	return nil
}

func networksDir(root string) string { return filepath.Join(stateDir(root), "networks") }

// CreateNetwork creates and records a network: its bridge with the
// gateway address, and its nftables table (masquerade, isolation). The
// name must be new; a subnet asked for must not overlap another network
// or any route of the host, and one not asked for is picked from
// spec.Pools under a lock every berth process shares (see pickSubnet).
func CreateNetwork(root string, spec NetworkSpec) (*Network, error) {
	if err := spec.Check(); err != nil {
		return nil, err
	}
	id := namespace.NewID() // 64 hex digits, as a container's
	n := &Network{
		ID: id, Name: spec.Name, Driver: "bridge", Bridge: "br-" + id[:12],
		Subnet: spec.Subnet, Gateway: spec.Gateway, IPRange: spec.IPRange, Internal: spec.Internal, Attachable: spec.Attachable,
		Labels: maps.Clone(spec.Labels), Options: maps.Clone(spec.Options), Created: time.Now().UTC(),
	}
	if b := spec.Options[BridgeNameOption]; b != "" {
		n.Bridge = b
	}
	err := withState(root, func(s *state) error {
		others, err := Networks(root)
		if err != nil {
			return err
		}
		for _, o := range others {
			switch {
			case o.Name == n.Name:
				return fmt.Errorf("network with name %s already exists: %w", n.Name, ErrNetworkExists)
			case o.Bridge == n.Bridge:
				return fmt.Errorf("bridge %s is the bridge of network %s: %w", n.Bridge, o.Name, ErrNetworkExists)
			case n.Subnet.IsValid() && o.Subnet.Overlaps(n.Subnet):
				return fmt.Errorf("subnet %s overlaps network %s (%s): %w", n.Subnet, o.Name, o.Subnet, ErrSubnetInUse)
			}
		}
		if err := n.createBridge(others, spec.Pools); err != nil {
			return err
		}
		if err := installTable(n.bridgeSpec()); err != nil {
			return errors.Join(err, RemoveBridge(n.Bridge))
		}
		if err := writeJSON(filepath.Join(networksDir(root), n.ID+".json"), n); err != nil {
			return errors.Join(err, RemoveBridge(n.Bridge))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("creating network %s: %w", spec.Name, err)
	}
	return n, nil
}

// createBridge creates n's bridge, on n's subnet or on one picked from
// pools.
func (n *Network) createBridge(others []*Network, pools []netip.Prefix) error {
	if n.Subnet.IsValid() {
		if !n.Gateway.IsValid() {
			n.Gateway = Gateway(n.Subnet)
		}
		_, err := ensureBridge(n.Bridge, n.gatewayPrefix())
		return err
	}
	if pools == nil {
		pools = DefaultPools
	}
	return pickSubnet(pools, others, func(subnet netip.Prefix) error {
		n.Subnet, n.Gateway = subnet, Gateway(subnet)
		_, err := ensureBridge(n.Bridge, n.gatewayPrefix())
		return err
	})
}

func (n *Network) gatewayPrefix() netip.Prefix { return netip.PrefixFrom(n.Gateway, n.Subnet.Bits()) }

func (n *Network) bridgeSpec() bridgeSpec {
	return bridgeSpec{Name: n.Bridge, Subnet: n.Subnet, Internal: n.Internal}
}

// Networks lists the networks recorded under root, oldest first.
func Networks(root string) ([]*Network, error) {
	entries, err := os.ReadDir(networksDir(root))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("networks: %w", err)
	}
	var out []*Network
	for _, de := range entries {
		if !strings.HasSuffix(de.Name(), ".json") {
			continue // a write's leftover temporary file (.NAME.json.*)
		}
		b, err := os.ReadFile(filepath.Join(networksDir(root), de.Name()))
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed meanwhile
		}
		n := &Network{}
		if err == nil {
			err = json.Unmarshal(b, n)
		}
		if err != nil {
			return nil, fmt.Errorf("network %s: %w", de.Name(), err)
		}
		out = append(out, n)
	}
	slices.SortFunc(out, func(a, b *Network) int { return a.Created.Compare(b.Created) })
	return out, nil
}

// FindNetwork finds a network by its name, its ID, or a unique prefix of
// its ID, in that order, as Docker does.
func FindNetwork(root, ref string) (*Network, error) {
	all, err := Networks(root)
	if err != nil {
		return nil, err
	}
	return findIn(all, ref)
}

func findIn(all []*Network, ref string) (*Network, error) {
	for _, n := range all {
		if n.Name == ref || n.ID == ref {
			return n, nil
		}
	}
	var found *Network
	for _, n := range all {
		if ref != "" && strings.HasPrefix(n.ID, ref) {
			if found != nil {
				return nil, fmt.Errorf("network %s is ambiguous (%s and %s)", ref, namespace.ShortID(found.ID), namespace.ShortID(n.ID))
			}
			found = n
		}
	}
	if found == nil {
		return nil, fmt.Errorf("network %s: %w", ref, ErrNetworkNotFound)
	}
	return found, nil
}

// RemoveNetwork removes a network that no container is attached to or
// recorded on (see SetAttachments): its bridge, its table, its record.
func RemoveNetwork(root, ref string) error {
	return withState(root, func(s *state) error {
		n, err := FindNetwork(root, ref)
		if err != nil {
			return err
		}
		reclaimStale(root, s)
		users, err := networkUsers(root, s, n)
		if err != nil {
			return err
		}
		if len(users) > 0 {
			return fmt.Errorf("error while removing network: network %s id %s has active endpoints (%s): %w",
				n.Name, n.ID, strings.Join(users, ", "), ErrNetworkInUse)
		}
		if err := RemoveBridge(n.Bridge); err != nil {
			return err
		}
		delete(s.Networks, n.Bridge)
		if err := os.Remove(filepath.Join(networksDir(root), n.ID+".json")); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("removing network %s: %w", n.Name, err)
		}
		return nil
	})
}

// networkUsers lists the short IDs of the containers that hold an
// address on n or are recorded on it.
func networkUsers(root string, s *state, n *Network) ([]string, error) {
	seen := map[string]bool{}
	if p := s.Networks[n.Bridge]; p != nil {
		for _, id := range p.Leases {
			seen[namespace.ShortID(id)] = true
		}
	}
	recs, err := allAttachments(root)
	if err != nil {
		return nil, err
	}
	for id, atts := range recs {
		for _, a := range atts {
			if a.Network == n.ID {
				seen[namespace.ShortID(id)] = true
			}
		}
	}
	return slices.Sorted(maps.Keys(seen)), nil
}

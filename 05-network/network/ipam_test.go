package network

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSubnetPickSkipsOtherNetworksAndRoutedSubnets(t *testing.T) {
	p := netip.MustParsePrefix
	pools := []netip.Prefix{p("10.7.0.0/24"), p("10.7.1.0/24"), p("10.7.2.0/24"), p("10.7.3.0/24")}
	for _, tc := range []struct {
		name   string
		others []string // other networks' subnets
		routed []string // subnets the host routes: create fails with ErrSubnetInUse
		want   string   // "" for none left
	}{
		{"the first", nil, nil, "10.7.0.0/24"},
		{"another network has it", []string{"10.7.0.0/24"}, nil, "10.7.1.0/24"},
		{"a wider network covers two", []string{"10.7.0.0/23"}, nil, "10.7.2.0/24"},
		{"the host routes it", nil, []string{"10.7.0.0/24", "10.7.1.0/24"}, "10.7.2.0/24"},
		{"both", []string{"10.7.0.0/24"}, []string{"10.7.1.0/24"}, "10.7.2.0/24"},
		{"exhausted", []string{"10.7.0.0/22"}, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var others []*Network
			for _, s := range tc.others {
				others = append(others, &Network{Subnet: p(s)})
			}
			var tried []string
			got, err := firstFree(pools, others, func(s netip.Prefix) error {
				tried = append(tried, s.String())
				for _, r := range tc.routed {
					if p(r).Overlaps(s) {
						return fmt.Errorf("overlaps: %w", ErrSubnetInUse)
					}
				}
				return nil
			})
			require.NoError(t, err)
			if tc.want == "" {
				assert.False(t, got.IsValid())
				return
			}
			assert.Equal(t, tc.want, got.String())
			for _, o := range tc.others {
				assert.NotContains(t, tried, o, "another network's subnet is not even tried")
			}
		})
	}
}

func TestNetworkSpecsAreChecked(t *testing.T) {
	p, a := netip.MustParsePrefix, netip.MustParseAddr
	for _, tc := range []struct {
		name string
		spec NetworkSpec
		err  string // "" for valid
	}{
		{"a name alone", NetworkSpec{Name: "front"}, ""},
		{"subnet, gateway, range", NetworkSpec{Name: "n", Subnet: p("10.7.0.0/16"), Gateway: a("10.7.255.254"), IPRange: p("10.7.1.0/24")}, ""},
		{"bad name", NetworkSpec{Name: "a/b"}, "only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"},
		{"builtin name", NetworkSpec{Name: "host"}, "network with name host already exists"},
		{"gateway outside", NetworkSpec{Name: "n", Subnet: p("10.7.0.0/24"), Gateway: a("10.8.0.1")}, "gateway: address 10.8.0.1 is not in subnet 10.7.0.0/24"},
		{"gateway is the broadcast", NetworkSpec{Name: "n", Subnet: p("10.7.0.0/24"), Gateway: a("10.7.0.255")}, "network or broadcast address"},
		{"range outside", NetworkSpec{Name: "n", Subnet: p("10.7.0.0/24"), IPRange: p("10.7.1.0/28")}, "not a network inside subnet"},
		{"range wider", NetworkSpec{Name: "n", Subnet: p("10.7.0.0/24"), IPRange: p("10.7.0.0/23")}, "not a network inside subnet"},
		{"gateway without subnet", NetworkSpec{Name: "n", Gateway: a("10.7.0.1")}, "needs a subnet"},
		{"IPv6", NetworkSpec{Name: "n", Subnet: p("fd00::/64")}, "only IPv4"},
		{"unknown option", NetworkSpec{Name: "n", Options: map[string]string{"com.docker.network.bridge.enable_icc": "false"}}, "network option com.docker.network.bridge.enable_icc is not supported"},
		{"bridge name too long", NetworkSpec{Name: "n", Options: map[string]string{BridgeNameOption: "a-very-long-bridge"}}, "longer than 15 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.spec.Check()
			if tc.err == "" {
				assert.NoError(t, err)
			} else {
				assert.ErrorContains(t, err, tc.err)
			}
		})
	}
}

func TestStaticAddresses(t *testing.T) {
	a := netip.MustParseAddr
	for _, tc := range []struct {
		ip  string
		err string
	}{
		{"10.7.0.9", ""},
		{"10.7.0.200", ""}, // outside the range, inside the subnet: allowed, as in Docker
		{"10.7.0.1", "is the gateway's"},
		{"10.7.0.0", "network or broadcast address"},
		{"10.7.0.255", "network or broadcast address"},
		{"10.8.0.9", "not in subnet 10.7.0.0/24"},
		{"10.7.0.5", "already in use by container other"},
	} {
		t.Run(tc.ip, func(t *testing.T) {
			n := &netState{Subnet: netip.MustParsePrefix("10.7.0.0/24"), Range: netip.MustParsePrefix("10.7.0.0/28"),
				Leases: map[netip.Addr]string{a("10.7.0.5"): "other"}}
			err := n.lease(a(tc.ip), "c")
			if tc.err == "" {
				require.NoError(t, err)
				assert.Equal(t, "c", n.Leases[a(tc.ip)])
			} else {
				assert.ErrorContains(t, err, tc.err)
			}
		})
	}
}

func TestAllocationStaysInTheRangeAndSkipsTheGateway(t *testing.T) {
	for _, tc := range []struct {
		name, subnet, rng, gateway string
		want                       []string // in order, until exhausted
	}{
		{"whole subnet", "10.7.0.0/29", "", "", []string{"10.7.0.2", "10.7.0.3", "10.7.0.4", "10.7.0.5", "10.7.0.6"}},
		{"a gateway at the end", "10.7.0.0/29", "", "10.7.0.6", []string{"10.7.0.1", "10.7.0.2", "10.7.0.3", "10.7.0.4", "10.7.0.5"}},
		{"a range", "10.7.0.0/24", "10.7.0.8/30", "", []string{"10.7.0.8", "10.7.0.9", "10.7.0.10", "10.7.0.11"}},
		{"a range at the subnet's start", "10.7.0.0/24", "10.7.0.0/30", "", []string{"10.7.0.2", "10.7.0.3"}},
		{"a range at the subnet's end", "10.7.0.0/24", "10.7.0.252/30", "", []string{"10.7.0.252", "10.7.0.253", "10.7.0.254"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := &netState{Subnet: netip.MustParsePrefix(tc.subnet), Leases: map[netip.Addr]string{}}
			if tc.rng != "" {
				n.Range = netip.MustParsePrefix(tc.rng)
			}
			if tc.gateway != "" {
				n.Gateway = netip.MustParseAddr(tc.gateway)
			}
			var got []string
			for range tc.want {
				a, err := n.allocate("c")
				require.NoError(t, err)
				got = append(got, a.String())
			}
			assert.Equal(t, tc.want, got)
			_, err := n.allocate("c")
			assert.ErrorContains(t, err, "no free address left", "exhausted")
		})
	}
}

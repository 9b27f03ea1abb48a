package rootfs_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/03-rootfs/rootfs"
)

func TestCapabilityTable(t *testing.T) {
	t.Parallel()
	// Every number from 0 to the newest capability has a name, and the
	// name maps back to the number.
	for n := 0; n <= unix.CAP_LAST_CAP; n++ {
		name := rootfs.CapabilityName(n)
		require.NotEmpty(t, name, "capability %d", n)
		got, err := rootfs.ParseCapability(name)
		require.NoError(t, err)
		assert.Equal(t, n, got, name)
	}
	assert.Empty(t, rootfs.CapabilityName(-1))
	assert.Empty(t, rootfs.CapabilityName(unix.CAP_LAST_CAP+1))

	// Spot checks against linux/capability.h.
	for name, n := range map[string]int{
		"CAP_CHOWN": 0, "CAP_NET_ADMIN": 12, "CAP_SYS_ADMIN": 21,
		"CAP_SETFCAP": 31, "CAP_BPF": 39, "CAP_CHECKPOINT_RESTORE": 40,
	} {
		got, err := rootfs.ParseCapability(name)
		require.NoError(t, err)
		assert.Equal(t, n, got, name)
	}
}

func TestParseCapabilitySpellings(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"CAP_NET_ADMIN", "NET_ADMIN", "net_admin", "cap_net_admin", " NET_ADMIN "} {
		n, err := rootfs.ParseCapability(s)
		require.NoError(t, err, s)
		assert.Equal(t, unix.CAP_NET_ADMIN, n, s)
	}
	for _, s := range []string{"", "CAP_", "NET_ADMINS", "CAP_FLY", "ALL"} {
		_, err := rootfs.ParseCapability(s)
		assert.Error(t, err, "%q", s)
	}
}

func TestDefaultCapabilitiesMask(t *testing.T) {
	t.Parallel()
	var mask uint64
	for _, name := range rootfs.DefaultCapabilities {
		n, err := rootfs.ParseCapability(name)
		require.NoError(t, err)
		mask |= 1 << n
	}
	// Docker's CapEff for root in a default container.
	assert.Equal(t, uint64(0xa80425fb), mask)
	assert.Len(t, rootfs.DefaultCapabilities, 14)
}

// TestCapSetsCheck: what capset would refuse is found before the
// container starts, with the set named.
func TestCapSetsCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		c    rootfs.CapSets
		want string // "" for no error
	}{
		{"none at all", rootfs.CapSets{}, ""},
		{"Docker's, runc spec's shape", rootfs.CapSets{Bounding: []string{"CAP_KILL", "CAP_CHOWN"}, Effective: []string{"CAP_KILL"},
			Permitted: []string{"CAP_KILL", "CAP_CHOWN"}}, ""},
		{"ambient in permitted and inheritable", rootfs.CapSets{Permitted: []string{"CAP_NET_BIND_SERVICE"},
			Inheritable: []string{"CAP_NET_BIND_SERVICE"}, Ambient: []string{"CAP_NET_BIND_SERVICE"}}, ""},
		{"unknown name", rootfs.CapSets{Bounding: []string{"CAP_FLY"}}, `bounding: unknown capability "CAP_FLY"`},
		{"unknown in ambient", rootfs.CapSets{Ambient: []string{"CAP_NOPE"}}, "ambient: unknown capability"},
		{"effective not permitted", rootfs.CapSets{Effective: []string{"CAP_KILL", "CAP_SYS_ADMIN"}, Permitted: []string{"CAP_KILL"}},
			"effective CAP_SYS_ADMIN not in the permitted set"},
		// runc spec's shape: Apply leaves such an ambient set out, as
		// runc does, rather than refusing the bundle.
		{"ambient not inheritable", rootfs.CapSets{Permitted: []string{"CAP_KILL"}, Ambient: []string{"CAP_KILL"}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.c.Check()
			if tt.want == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

package namespace

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCheckSysctl: only the parameters of the container's own
// namespaces may be set; net.* only with its own network namespace.
func TestCheckSysctl(t *testing.T) {
	for _, tc := range []struct {
		key     string
		hostNet bool
		want    string // "" for allowed
	}{
		{"kernel.msgmax", false, ""},
		{"kernel.msgmnb", false, ""},
		{"kernel.msgmni", false, ""},
		{"kernel.sem", false, ""},
		{"kernel.shmall", false, ""},
		{"kernel.shmmax", false, ""},
		{"kernel.shmmni", false, ""},
		{"kernel.shm_rmid_forced", true, ""},
		{"fs.mqueue.msg_max", false, ""},
		{"kernel.domainname", false, ""},
		{"net.ipv4.ip_forward", false, ""},
		{"net.core.somaxconn", false, ""},
		{"net.ipv4.ip_forward", true, `sysctl "net.ipv4.ip_forward" is not allowed in the host's network namespace`},
		{"kernel.hostname", false, `sysctl "kernel.hostname" is not allowed as it conflicts with the container's hostname`},
		{"net.ipv4.conf.all.forwarding", false, ""},
		{"net.ipv4.conf.default.rp_filter", false, ""},
		{"net.ipv6.conf.lo.disable_ipv6", false, ""},
		{"net.ipv4.conf.eth0.forwarding", false, `sysctl "net.ipv4.conf.eth0.forwarding" names the interface eth0`},
		{"net.ipv4.neigh.eth0.gc_stale_time", false, "set net.ipv4.neigh.default.gc_stale_time, which interfaces made later inherit"},
		{"vm.swappiness", false, `sysctl "vm.swappiness" is not in a separate kernel namespace`},
		{"kernel.pid_max", false, `sysctl "kernel.pid_max" is not in a separate kernel namespace`},
		{"fs.file-max", false, `sysctl "fs.file-max" is not in a separate kernel namespace`},
	} {
		err := CheckSysctl(tc.key, tc.hostNet)
		if tc.want == "" {
			assert.NoError(t, err, tc.key)
			continue
		}
		require.Error(t, err, tc.key)
		assert.Contains(t, err.Error(), tc.want)
	}
}

func TestSysctlPath(t *testing.T) {
	p, err := sysctlPath("net.ipv4.ip_forward")
	require.NoError(t, err)
	assert.Equal(t, "/proc/sys/net/ipv4/ip_forward", p)
	for _, bad := range []string{"", "net..x", ".net", "net//x"} {
		_, err := sysctlPath(bad)
		assert.Error(t, err, bad)
	}
}

func TestSysctlFlag(t *testing.T) {
	var l SysctlList
	require.NoError(t, l.Set("kernel.msgmax=1=2"))
	assert.Equal(t, SysctlList{"kernel.msgmax": "1=2"}, l)
	assert.Error(t, l.Set("novalue"))
	assert.Error(t, l.Set("=1"))
	c := Config{Sysctls: SysctlList{"vm.swappiness": "1"}}
	assert.ErrorContains(t, c.Validate(), "vm.swappiness")
}

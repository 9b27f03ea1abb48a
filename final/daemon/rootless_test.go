package daemon

import (
	"net/netip"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/05-network/network"
)

// A rootless daemon refuses, by name, each option that needs a cgroup;
// the CLI's defaults ask for none; a daemon with root refuses none.
func TestRootlessRefusesWhatNeedsACgroup(t *testing.T) {
	rootless := &Daemon{opts: Options{Rootless: true}}
	unlimited, ten := int64(-1), int64(10)
	require.NoError(t, rootless.checkRootless(&container.HostConfig{}), "nothing asked")
	require.NoError(t, rootless.checkRootless(&container.HostConfig{Resources: container.Resources{PidsLimit: &unlimited}}), "--pids-limit -1: no limit")

	for _, tc := range []struct {
		set  func(*container.Resources)
		want string
	}{
		{func(r *container.Resources) { r.Memory = 10 << 20 }, "--memory needs a cgroup"},
		{func(r *container.Resources) { r.NanoCPUs = 5e8 }, "--cpus needs a cgroup"},
		{func(r *container.Resources) { r.CPUQuota = 50000 }, "--cpu-quota needs a cgroup"},
		{func(r *container.Resources) { r.CPUPeriod = 50000 }, "--cpu-period needs a cgroup"},
		{func(r *container.Resources) { r.PidsLimit = &ten }, "--pids-limit needs a cgroup"},
		{func(r *container.Resources) {
			r.Devices = []container.DeviceMapping{{PathOnHost: "/dev/kmsg", PathInContainer: "/dev/kmsg", CgroupPermissions: "r"}}
		}, "--device needs a cgroup"},
		{func(r *container.Resources) { r.DeviceCgroupRules = []string{"c 1:11 r"} }, "--device-cgroup-rule needs a cgroup"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			var h container.HostConfig
			tc.set(&h.Resources)
			err := rootless.checkRootless(&h)
			require.Error(t, err)
			assert.True(t, errdefs.IsInvalidArgument(err))
			assert.Contains(t, err.Error(), tc.want)
			assert.NoError(t, (&Daemon{}).checkRootless(&h), "a daemon with root applies it")
		})
	}
	assert.ErrorContains(t, rootless.refuseRootlessFreeze("pause"), "pause needs a cgroup")
	assert.NoError(t, (&Daemon{}).refuseRootlessFreeze("pause"))
}

// A rootless daemon's ports: chapter 05 publishes them on every address
// of the namespace, the host's addresses go to slirp4netns; without
// slirp4netns, -p is refused.
func TestRootlessPorts(t *testing.T) {
	local := netip.MustParseAddr("127.0.0.1")
	asked := []network.PortMapping{
		{HostIP: local, HostPort: 8080, ContainerPort: 80, Protocol: "tcp"},
		{HostPort: 5353, ContainerPort: 53, Protocol: "udp"},
	}
	for _, tc := range []struct {
		name      string
		opts      Options
		wantInner []network.PortMapping
		wantHost  *hostPorts
		err       string
	}{
		{name: "root", opts: Options{}, wantInner: asked},
		{name: "slirp4netns", opts: Options{Rootless: true, PortForwarder: "/run/user/1000/berth/slirp4netns.sock"},
			wantInner: []network.PortMapping{
				{HostPort: 8080, ContainerPort: 80, Protocol: "tcp"},
				{HostPort: 5353, ContainerPort: 53, Protocol: "udp"},
			},
			wantHost: &hostPorts{API: "/run/user/1000/berth/slirp4netns.sock", Ports: asked}},
		{name: "none", opts: Options{Rootless: true}, err: "--rootless-net none"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := network.Config{Publish: append([]network.PortMapping(nil), asked...)}
			var s runSpec
			err := (&Daemon{opts: tc.opts}).rootlessPorts(&n, &s)
			if tc.err != "" {
				require.Error(t, err)
				assert.True(t, errdefs.IsInvalidArgument(err))
				assert.Contains(t, err.Error(), tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.wantInner, n.Publish)
			assert.Equal(t, tc.wantHost, s.Forward)
		})
	}
}

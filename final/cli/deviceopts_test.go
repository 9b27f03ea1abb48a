package cli

import (
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDeviceFlags(t *testing.T) {
	for _, tc := range []struct {
		flag string
		want container.DeviceMapping
	}{
		{"/dev/kmsg", container.DeviceMapping{PathOnHost: "/dev/kmsg", PathInContainer: "/dev/kmsg", CgroupPermissions: "rwm"}},
		{"/dev/kmsg:r", container.DeviceMapping{PathOnHost: "/dev/kmsg", PathInContainer: "/dev/kmsg", CgroupPermissions: "r"}},
		{"/dev/kmsg:/dev/log", container.DeviceMapping{PathOnHost: "/dev/kmsg", PathInContainer: "/dev/log", CgroupPermissions: "rwm"}},
		{"/dev/sda:/dev/xvda:rw", container.DeviceMapping{PathOnHost: "/dev/sda", PathInContainer: "/dev/xvda", CgroupPermissions: "rw"}},
	} {
		t.Run(tc.flag, func(t *testing.T) {
			spec := mustParseRun(t, "--device", tc.flag, "busybox")
			assert.Equal(t, []container.DeviceMapping{tc.want}, spec.HostConfig.Devices)
		})
	}
	spec := mustParseRun(t, "busybox")
	assert.NotNil(t, spec.HostConfig.Devices, "[] for none, as docker sends")
	assert.Nil(t, spec.HostConfig.DeviceCgroupRules)

	spec = mustParseRun(t, "--device-cgroup-rule", "c 1:11 rw", "--device-cgroup-rule", "a *:* rwm", "busybox")
	assert.Equal(t, []string{"c 1:11 rw", "a *:* rwm"}, spec.HostConfig.DeviceCgroupRules)

	for _, bad := range []struct{ flag, value, msg string }{
		{"--device", "/dev/kmsg:log", "log is not an absolute path"},
		{"--device", "/dev/kmsg:/dev/log:rwx", "bad mode specified: rwx"},
		{"--device", "a:b:c:d", "bad format for path: a:b:c:d"},
		{"--device-cgroup-rule", "c 1:11", "invalid device cgroup format 'c 1:11'"},
		{"--device-cgroup-rule", "x 1:11 rw", "invalid device cgroup format"},
	} {
		_, err := parseRun(t, nil, bad.flag, bad.value, "busybox")
		require.Error(t, err, "%s %s", bad.flag, bad.value)
		assert.Contains(t, err.Error(), bad.msg)
	}
}

package ociruntime

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/02-cgroups/cgroup"
)

// runcDefaults are runc's default allowed devices, which end every
// policy: Docker's list without its deny-all.
var runcDefaults = cgroup.DefaultDevices()[1:]

func TestDeviceRules(t *testing.T) {
	t.Parallel()
	denyAll := specs.LinuxDeviceCgroup{Allow: false, Access: "rwm"}
	tests := []struct {
		name string
		l    *specs.Linux
		want []cgroup.DeviceRule // before runc's defaults and linux.devices
		devs []cgroup.DeviceRule // after runc's defaults
	}{
		{"no linux section", nil, nil, nil},
		{"no rules: runc's defaults from deny-all", &specs.Linux{}, nil, nil},
		{"runc spec's deny-all", &specs.Linux{Resources: &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{denyAll}}},
			[]cgroup.DeviceRule{{Allow: false, Type: cgroup.AnyDevice, Major: cgroup.Wildcard, Minor: cgroup.Wildcard, Access: "rwm"}}, nil},
		{"type a spelled out, access in another order", &specs.Linux{Resources: &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{
			{Allow: true, Type: "a", Access: "mwr"}}}},
			[]cgroup.DeviceRule{{Allow: true, Type: cgroup.AnyDevice, Major: cgroup.Wildcard, Minor: cgroup.Wildcard, Access: "rwm"}}, nil},
		{"exact char device", &specs.Linux{Resources: &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{
			denyAll, {Allow: true, Type: "c", Major: resPtr[int64](10), Minor: resPtr[int64](229), Access: "rw"}}}},
			[]cgroup.DeviceRule{
				{Allow: false, Type: cgroup.AnyDevice, Major: cgroup.Wildcard, Minor: cgroup.Wildcard, Access: "rwm"},
				{Allow: true, Type: cgroup.CharDevice, Major: 10, Minor: 229, Access: "rw"}}, nil},
		{"wildcard minor, absent access", &specs.Linux{Resources: &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{
			{Allow: true, Type: "b", Major: resPtr[int64](8)}}}},
			[]cgroup.DeviceRule{{Allow: true, Type: cgroup.BlockDevice, Major: 8, Minor: cgroup.Wildcard, Access: "rwm"}}, nil},
		{"a deny of one device", &specs.Linux{Resources: &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{
			{Allow: false, Type: "c", Major: resPtr[int64](1), Minor: resPtr[int64](11), Access: "w"}}}},
			[]cgroup.DeviceRule{{Allow: false, Type: cgroup.CharDevice, Major: 1, Minor: 11, Access: "w"}}, nil},
		{"linux.devices are allowed", &specs.Linux{Devices: []specs.LinuxDevice{
			{Path: "/dev/fuse", Type: "c", Major: 10, Minor: 229},
			{Path: "/dev/loop0", Type: "b", Major: 7, Minor: 0},
			{Path: "/dev/ttyX", Type: "u", Major: 4, Minor: 64},
			{Path: "/dev/fifo", Type: "p"}}},
			nil, []cgroup.DeviceRule{
				cgroup.AllowDevice(cgroup.CharDevice, 10, 229),
				cgroup.AllowDevice(cgroup.BlockDevice, 7, 0),
				cgroup.AllowDevice(cgroup.CharDevice, 4, 64)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DeviceRules(tt.l)
			require.NoError(t, err)
			want := append(append(append([]cgroup.DeviceRule{}, tt.want...), runcDefaults...), tt.devs...)
			assert.Equal(t, want, got)
		})
	}
}

func TestDeviceRulesRefused(t *testing.T) {
	t.Parallel()
	res := func(d ...specs.LinuxDeviceCgroup) *specs.Linux {
		return &specs.Linux{Resources: &specs.LinuxResources{Devices: d}}
	}
	tests := []struct {
		name string
		l    *specs.Linux
		want string
	}{
		{"unknown type", res(specs.LinuxDeviceCgroup{Allow: true, Type: "p", Access: "r"}), `linux.resources.devices[0]: type "p"`},
		{"type a with a number", res(specs.LinuxDeviceCgroup{}, specs.LinuxDeviceCgroup{Allow: true, Major: resPtr[int64](1), Access: "rwm"}), "linux.resources.devices[1]"},
		{"type a with part of the access", res(specs.LinuxDeviceCgroup{Allow: true, Type: "a", Access: "r"}), "linux.resources.devices[0]"},
		{"bad access letter", res(specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: resPtr[int64](1), Minor: resPtr[int64](3), Access: "rx"}), `access "rx"`},
		{"negative major", res(specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: resPtr[int64](-3), Access: "r"}), "major -3"},
		{"negative minor", res(specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: resPtr[int64](1), Minor: resPtr[int64](-2), Access: "r"}), "minor -2"},
		{"a deny v1 cannot express", res(specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: resPtr[int64](1), Access: "rwm"},
			specs.LinuxDeviceCgroup{Allow: false, Type: "c", Major: resPtr[int64](1), Minor: resPtr[int64](11), Access: "w"}), "linux.resources.devices: device rule c 1:11 w"},
		{"device of unknown type", &specs.Linux{Devices: []specs.LinuxDevice{{Path: "/dev/x", Type: "z"}}}, `linux.devices[0] /dev/x: type "z"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DeviceRules(tt.l)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

// TestDeviceRulesDecide: what the policies of typical configs let the
// container do, as the kernel will decide it (chapter 02's replay).
func TestDeviceRulesDecide(t *testing.T) {
	t.Parallel()
	denyAll := specs.LinuxDeviceCgroup{Allow: false, Access: "rwm"}
	// runtime-tools' linux_cgroups_devices case.
	tools := &specs.Linux{Resources: &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{denyAll,
		{Allow: true, Type: "c", Major: resPtr[int64](10), Minor: resPtr[int64](229), Access: "rwm"},
		{Allow: true, Type: "b", Major: resPtr[int64](8), Minor: resPtr[int64](20), Access: "rw"},
		{Allow: true, Type: "b", Major: resPtr[int64](10), Minor: resPtr[int64](200), Access: "r"}}}}
	privileged := &specs.Linux{Resources: &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}}}
	withFuse := &specs.Linux{Resources: &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{denyAll}},
		Devices: []specs.LinuxDevice{{Path: "/dev/fuse", Type: "c", Major: 10, Minor: 229}}}
	tests := []struct {
		name   string
		l      *specs.Linux
		t      cgroup.DeviceType
		major  int64
		minor  int64
		access string
		want   bool
	}{
		{"tools: fuse", tools, cgroup.CharDevice, 10, 229, "rw", true},
		{"tools: sda4 rw", tools, cgroup.BlockDevice, 8, 20, "rw", true},
		{"tools: b 10:200 read", tools, cgroup.BlockDevice, 10, 200, "r", true},
		{"tools: b 10:200 write", tools, cgroup.BlockDevice, 10, 200, "w", false},
		{"tools: /dev/null from runc's defaults", tools, cgroup.CharDevice, 1, 3, "rw", true},
		{"tools: /dev/kmsg", tools, cgroup.CharDevice, 1, 11, "r", false},
		{"tools: mknod of anything", tools, cgroup.BlockDevice, 8, 0, "m", true},
		{"tools: sda", tools, cgroup.BlockDevice, 8, 0, "r", false},
		{"privileged: sda", privileged, cgroup.BlockDevice, 8, 0, "rw", true},
		{"no rules: /dev/pts/3", &specs.Linux{}, cgroup.CharDevice, 136, 3, "rw", true},
		{"no rules: /dev/mem", &specs.Linux{}, cgroup.CharDevice, 1, 1, "r", false},
		{"linux.devices: fuse opens", withFuse, cgroup.CharDevice, 10, 229, "rw", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rules, err := DeviceRules(tt.l)
			require.NoError(t, err)
			got, err := cgroup.DeviceAllowed(rules, tt.t, tt.major, tt.minor, tt.access)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

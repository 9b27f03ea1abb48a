package cgroup

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseDeviceRule(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want DeviceRule
		err  string
	}{
		{"c 1:3 rwm", AllowDevice(CharDevice, 1, 3), ""},
		{"a *:* rwm", AllowDevice(AnyDevice, Wildcard, Wildcard), ""},
		{"c 10:* rw", DeviceRule{Allow: true, Type: CharDevice, Major: 10, Minor: Wildcard, Access: "rw"}, ""},
		{"b *:* m", DeviceRule{Allow: true, Type: BlockDevice, Major: Wildcard, Minor: Wildcard, Access: "m"}, ""},
		{"c 136:* mwr", DeviceRule{Allow: true, Type: CharDevice, Major: 136, Minor: Wildcard, Access: "mwr"}, ""},
		{"c 4294967295:0 r", DeviceRule{Allow: true, Type: CharDevice, Major: 1<<32 - 1, Minor: 0, Access: "r"}, ""},
		{"", DeviceRule{}, "three fields"},
		{"c 1:3", DeviceRule{}, "three fields"},
		{"c  1:3 rwm", DeviceRule{}, "three fields"},
		{"x 1:3 rwm", DeviceRule{}, "type must be c, b or a"},
		{"c 1-3 rwm", DeviceRule{}, "no colon"},
		{"c -1:3 rwm", DeviceRule{}, `major "-1" is not a number`},
		{"c +1:3 rwm", DeviceRule{}, `major "+1" is not a number`},
		{"c 1:x rwm", DeviceRule{}, `minor "x" is not a number`},
		{"c 4294967296:0 r", DeviceRule{}, "is not a number"},
		{"c 1:3 rwx", DeviceRule{}, "made of r, w and m"},
		{"c 1:3 rr", DeviceRule{}, "made of r, w and m"},
		{"c 1:3 rwmr", DeviceRule{}, "made of r, w and m"},
		{"a 1:3 r", DeviceRule{}, "must be 'a *:* rwm'"},
		{"a *:* r", DeviceRule{}, "must be 'a *:* rwm'"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseDeviceRule(tc.in)
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err)
				assert.Contains(t, err.Error(), "'c 1:3 rwm'", "the message shows the form")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.in, got.String(), "formats back as it was written")
		})
	}
}

// The rules as v1 keeps them, for the expectations below.
func rules(t *testing.T, lines ...string) []DeviceRule {
	t.Helper()
	var out []DeviceRule
	for _, l := range lines {
		deny := strings.HasPrefix(l, "deny ")
		r, err := ParseDeviceRule(strings.TrimPrefix(l, "deny "))
		require.NoError(t, err)
		r.Allow = !deny
		out = append(out, r)
	}
	return out
}

func TestDefaultDevicesAreDockers(t *testing.T) {
	var lines []string
	for _, r := range DefaultDevices() {
		lines = append(lines, r.String())
	}
	assert.Equal(t, []string{"a *:* rwm", "c *:* m", "b *:* m",
		"c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm",
		"c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm", "c 136:* rwm", "c 10:200 rwm"}, lines)
	assert.False(t, DefaultDevices()[0].Allow, "it starts by denying everything")
}

func TestDeviceAllowed(t *testing.T) {
	def := DefaultDevices()
	kmsgOnly := append(DefaultDevices(), rules(t, "c 1:11 rw")...)
	allowAllButKmsg := rules(t, "a *:* rwm", "deny c 1:11 w")
	split := rules(t, "deny a *:* rwm", "c 1:3 r", "c 1:* w")
	for _, tc := range []struct {
		name   string
		policy []DeviceRule
		typ    DeviceType
		major  int64
		minor  int64
		access string
		want   bool
	}{
		{"null rw", def, CharDevice, 1, 3, "rw", true},
		{"kmsg w", def, CharDevice, 1, 11, "w", false},
		{"kmsg mknod", def, CharDevice, 1, 11, "m", true},
		{"mem r", def, CharDevice, 1, 1, "r", false},
		{"disk mknod", def, BlockDevice, 8, 0, "m", true},
		{"disk r", def, BlockDevice, 8, 0, "r", false},
		{"pts 7", def, CharDevice, 136, 7, "rw", true},
		{"tun", def, CharDevice, 10, 200, "rw", true},
		{"kvm", def, CharDevice, 10, 232, "rw", false},
		{"tty0", def, CharDevice, 4, 0, "w", false},
		{"block 1:3 is not null", def, BlockDevice, 1, 3, "r", false},
		{"added kmsg w", kmsgOnly, CharDevice, 1, 11, "w", true},
		{"added kmsg, rw", kmsgOnly, CharDevice, 1, 11, "rw", true},
		{"allow all", AllowAllDevices, BlockDevice, 8, 0, "rwm", true},
		{"allow all but kmsg: kmsg r", allowAllButKmsg, CharDevice, 1, 11, "r", true},
		{"allow all but kmsg: kmsg rw", allowAllButKmsg, CharDevice, 1, 11, "rw", false},
		{"allow all but kmsg: mem w", allowAllButKmsg, CharDevice, 1, 1, "w", true},
		// One exception must grant all of the access (v1's rule).
		{"split: null r", split, CharDevice, 1, 3, "r", true},
		{"split: null w", split, CharDevice, 1, 3, "w", true},
		{"split: null rw", split, CharDevice, 1, 3, "rw", false},
		{"nothing", []DeviceRule{}, CharDevice, 1, 3, "r", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DeviceAllowed(tc.policy, tc.typ, tc.major, tc.minor, tc.access)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestDevicePolicyReplaysV1(t *testing.T) {
	for _, tc := range []struct {
		name     string
		rules    []string
		allowAll bool
		want     []string
		err      string
	}{
		{name: "nothing", rules: nil, want: nil},
		{name: "a resets", rules: []string{"c 1:3 rwm", "a *:* rwm"}, allowAll: true, want: nil},
		{name: "merge", rules: []string{"c 1:3 r", "c 1:3 w"}, want: []string{"c 1:3 rw"}},
		{name: "remove part", rules: []string{"c 1:3 rwm", "deny c 1:3 w"}, want: []string{"c 1:3 rm"}},
		{name: "remove all", rules: []string{"c 1:3 rw", "deny c 1:3 rwm"}, want: nil},
		{name: "already denied", rules: []string{"c 1:3 rw", "deny c 1:5 rwm"}, want: []string{"c 1:3 rw"}},
		{name: "deny exceptions", rules: []string{"a *:* rwm", "deny c 1:11 w"}, allowAll: true, want: []string{"c 1:11 w"}},
		{name: "overlap v1 cannot express", rules: []string{"c 1:* rwm", "deny c 1:11 w"},
			err: "cgroup v1 cannot express that"},
		{name: "bad a", rules: []string{"deny a 1:2 r"}, err: "must be 'a *:* rwm'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var rs []DeviceRule
			for _, l := range tc.rules {
				deny := strings.HasPrefix(l, "deny ")
				r, err := ParseDeviceRule(strings.TrimPrefix(l, "deny "))
				if err != nil { // "a 1:2 r": build it by hand
					f := strings.Fields(strings.TrimPrefix(l, "deny "))
					r = DeviceRule{Type: DeviceType(f[0]), Major: 1, Minor: 2, Access: f[2]}
				}
				r.Allow = !deny
				rs = append(rs, r)
			}
			w, err := devicePolicy(rs)
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.allowAll, w.allowAll)
			var got []string
			for _, e := range w.exceptions {
				got = append(got, e.String())
			}
			assert.Equal(t, tc.want, got)
		})
	}
}

// v1: the default goes first, then one write per exception, all before
// New returns (so before any process can join).
func TestNewV1WritesTheDevicePolicy(t *testing.T) {
	h, k := newFakeV1(t, "memory", "cpu,cpuacct", "pids")
	c, err := h.New("web", Resources{})
	require.NoError(t, err)
	dir := filepath.Join(k.root, "devices", "berth", "web")
	assert.Equal(t, dir, c.Path("devices"))
	want := []string{"devices.deny a"}
	for _, r := range DefaultDevices()[1:] {
		want = append(want, "devices.allow "+r.String())
	}
	assert.Equal(t, want, k.calls)
}

func TestNewV1ExtraAndPrivilegedDevices(t *testing.T) {
	h, k := newFakeV1(t, "memory")
	_, err := h.New("web", Resources{Devices: append(DefaultDevices(), rules(t, "c 1:11 rw")...)})
	require.NoError(t, err)
	assert.Equal(t, "devices.allow c 1:11 rw", k.calls[len(k.calls)-1])

	k.calls = nil
	_, err = h.New("priv", Resources{Devices: AllowAllDevices})
	require.NoError(t, err)
	assert.Equal(t, []string{"devices.allow a"}, k.calls, "everything, and nothing else")

	k.calls = nil
	_, err = h.New("most", Resources{Devices: rules(t, "a *:* rwm", "deny c 1:11 w")})
	require.NoError(t, err)
	assert.Equal(t, []string{"devices.allow a", "devices.deny c 1:11 w"}, k.calls)
}

func TestNewV1WithoutDevicesHierarchy(t *testing.T) {
	h, k := newFakeV1(t, "memory", "-devices")
	_, err := h.New("web", Resources{})
	require.Error(t, err, "a container must not get the host's devices because a controller is missing")
	assert.Contains(t, err.Error(), "the devices controller is not mounted")
	assert.NoDirExists(t, filepath.Join(k.root, "memory", "berth", "web"))

	// A privileged container restricts nothing, so it does without.
	_, err = h.New("priv", Resources{Devices: AllowAllDevices})
	require.NoError(t, err)
}

func TestNewRejectsAnInexpressiblePolicy(t *testing.T) {
	h, k := newFakeV1(t, "memory")
	_, err := h.New("web", Resources{Devices: rules(t, "c 1:* rwm", "deny c 1:11 w")})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "cgroup web:")
	assert.NoDirExists(t, filepath.Join(k.root, "memory", "berth", "web"), "checked before anything is made")
}

func TestNewV2AttachesTheDeviceProgram(t *testing.T) {
	h, k := newFakeV2(t)
	c, err := h.New("web", Resources{})
	require.NoError(t, err)
	w, ok := k.attached[c.Path("")]
	require.True(t, ok, "a program on the container's cgroup")
	want, err := devicePolicy(DefaultDevices())
	require.NoError(t, err)
	assert.Equal(t, want, w)

	_, err = h.New("priv", Resources{Devices: AllowAllDevices})
	require.NoError(t, err)
	assert.NotContains(t, k.attached, filepath.Join(filepath.Dir(c.Path("")), "priv"), "nothing to restrict, no program")
}

func TestUpdateLeavesTheDevicePolicyAlone(t *testing.T) {
	h, k := newFakeV1(t, "memory", "pids")
	c, err := h.New("web", Resources{})
	require.NoError(t, err)
	k.calls = nil
	require.NoError(t, c.Update(Resources{PidsMax: 10}))
	assert.Empty(t, k.calls)
}

// The program's shape: one block per exception, then the default.
func TestDeviceProgramShape(t *testing.T) {
	w, err := devicePolicy(DefaultDevices())
	require.NoError(t, err)
	insns := deviceProgram(w)
	text := insns.String()
	assert.Contains(t, text, "exception_0:")
	assert.Contains(t, text, "exception_12:", "12 exceptions, then the default")
	last := insns[len(insns)-2]
	assert.Equal(t, "exception_12", last.Symbol())
	assert.Equal(t, int64(0), last.Constant, "deny by default")
}

func TestPolicyKeyTellsPoliciesApart(t *testing.T) {
	def, err := devicePolicy(DefaultDevices())
	require.NoError(t, err)
	again, err := devicePolicy(DefaultDevices())
	require.NoError(t, err)
	kmsg, err := devicePolicy(append(DefaultDevices(), AllowDevice(CharDevice, 1, 11)))
	require.NoError(t, err)
	all, err := devicePolicy(AllowAllDevices)
	require.NoError(t, err)
	assert.Equal(t, def.key(), again.key(), "equal policies share a program")
	assert.NotEqual(t, def.key(), kmsg.key())
	assert.NotEqual(t, def.key(), all.key())
}

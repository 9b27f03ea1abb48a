package cgroup

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/labtest"
)

// probeNodes are character devices whose open(2) succeeds for root on
// any host unless a device cgroup refuses it: so a refusal here is the
// policy's doing.
var probeNodes = []struct {
	name         string
	major, minor int64
}{
	{"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}, {"kmsg", 1, 11},
}

// probeDevices runs, inside c, a shell that makes each probe node with
// mknod and opens it for reading and for writing (without reading or
// writing a byte: nothing reaches the host's kernel log), and checks each
// outcome against what DeviceAllowed says of policy.
func probeDevices(t *testing.T, c *Cgroup, policy []DeviceRule) {
	t.Helper()
	dir := t.TempDir()
	var script strings.Builder
	for _, n := range probeNodes {
		p := filepath.Join(dir, n.name)
		fmt.Fprintf(&script, "if mknod %s c %d %d 2>/dev/null; then echo %s m ok; else echo %s m no; fi; ", p, n.major, n.minor, n.name, n.name)
		fmt.Fprintf(&script, "if true 2>/dev/null <%s; then echo %s r ok; else echo %s r no; fi; ", p, n.name, n.name)
		fmt.Fprintf(&script, "if true 2>/dev/null >%s; then echo %s w ok; else echo %s w no; fi; ", p, n.name, n.name)
	}
	// The shell's words for one refusal, to show in the log. Only when
	// the policy refuses: else the line would land in the host's log.
	if ok, _ := DeviceAllowed(policy, CharDevice, 1, 11, "w"); !ok {
		fmt.Fprintf(&script, "(echo X >%s/kmsg); ", dir)
	}
	script.WriteString("true")
	out := filepath.Join(dir, "out")
	p := startIn(t, c, "exec >"+out+"; "+script.String())
	require.NoError(t, p.wait(t, 10*time.Second), "stderr: %s", p.stderr.String())
	if p.stderr.Len() > 0 {
		t.Logf("writing to a mknod'ed kmsg: %q", strings.TrimSpace(p.stderr.String()))
	}

	b, err := os.ReadFile(out)
	require.NoError(t, err)
	var want, got []string
	for _, n := range probeNodes {
		for _, acc := range []string{"m", "r", "w"} {
			ok, err := DeviceAllowed(policy, CharDevice, n.major, n.minor, acc)
			require.NoError(t, err)
			verdict := "no"
			if ok {
				verdict = "ok"
			}
			want = append(want, n.name+" "+acc+" "+verdict)
		}
	}
	got = strings.Split(strings.TrimSpace(string(b)), "\n")
	assert.Equal(t, want, got)
}

func TestLiveV1DevicePolicy(t *testing.T) {
	h := liveHierarchy(t)
	labtest.Need(t, h.Version.usesV1() && h.Mounts["devices"] != "", "no cgroup v1 devices hierarchy")
	for _, tc := range []struct {
		name   string
		policy []DeviceRule
	}{
		{"default", nil},
		{"plus kmsg", append(DefaultDevices(), AllowDevice(CharDevice, 1, 11))},
		{"all but kmsg", []DeviceRule{AllowDevice(AnyDevice, Wildcard, Wildcard),
			{Type: CharDevice, Major: 1, Minor: 11, Access: "rw"}}},
		{"privileged", AllowAllDevices},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newLive(t, h, Resources{Devices: tc.policy})
			list := readLive(t, c.Path("devices"), "devices.list")
			t.Logf("devices.list:\n%s", list)
			if tc.policy == nil {
				assert.Contains(t, list, "c 1:3 rwm")
				assert.NotContains(t, list, "a *:* rwm")
				tc.policy = DefaultDevices()
			}
			probeDevices(t, c, tc.policy)
		})
	}
}

// liveUnified returns a v2 Hierarchy on this machine: the host's own on
// a v2 host, else the cgroup2 mount of a hybrid host. A hybrid host has
// no controllers in it, but device programs need none: the kernel runs a
// process's cgroup2 device programs at every open of a device, whatever
// else the process is in. So the v2 path is tested here too.
func liveUnified(t *testing.T) *Hierarchy {
	t.Helper()
	h := liveHierarchy(t)
	if h.Version == V2 {
		return h
	}
	labtest.Need(t, h.Unified != "", "no cgroup2 mount")
	// A parent of the test's own, removed at the end: other tests of
	// this package and other engines use theirs.
	v2 := (&Hierarchy{Version: V2, Unified: h.Unified}).Under(labtest.Unique("berth-devtest"))
	t.Cleanup(func() { _ = v2.RemoveParent() })
	return v2
}

func TestLiveV2DeviceProgram(t *testing.T) {
	h := liveUnified(t)
	for _, tc := range []struct {
		name   string
		policy []DeviceRule
	}{
		{"default", DefaultDevices()},
		{"plus kmsg", append(DefaultDevices(), AllowDevice(CharDevice, 1, 11))},
		{"all but kmsg", []DeviceRule{AllowDevice(AnyDevice, Wildcard, Wildcard),
			{Type: CharDevice, Major: 1, Minor: 11, Access: "rw"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newLive(t, h, Resources{Devices: tc.policy})
			// New has closed every descriptor of the program by now;
			// the cgroup holds it (BPF_PROG_ATTACH, not a bpf_link).
			dir, err := os.Open(c.Path(""))
			require.NoError(t, err)
			defer dir.Close()
			q, err := link.QueryPrograms(link.QueryOptions{Target: int(dir.Fd()), Attach: ebpf.AttachCGroupDevice})
			require.NoError(t, err)
			assert.Len(t, q.Programs, 1, "the program outlives the descriptors that loaded it")
			probeDevices(t, c, tc.policy)
		})
	}
}

// Every policy the tests use loads: the verifier accepts the program.
func TestLiveDeviceProgramsLoad(t *testing.T) {
	labtest.Privileged(t)
	for _, policy := range [][]DeviceRule{DefaultDevices(), AllowAllDevices, {},
		{AllowDevice(AnyDevice, Wildcard, Wildcard), {Type: BlockDevice, Major: 8, Minor: Wildcard, Access: "rw"}},
		{{Type: AnyDevice, Major: Wildcard, Minor: Wildcard, Access: "rwm"}, AllowDevice(CharDevice, 1<<32-1, 1<<20)},
	} {
		w, err := devicePolicy(policy)
		require.NoError(t, err)
		prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{Type: ebpf.CGroupDevice, Instructions: deviceProgram(w), License: "Apache-2.0"})
		require.NoError(t, err, "%v", policy)
		require.NoError(t, prog.Close())
	}
}

package ociruntime

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRefusals: what berth-runtime does not apply is refused, naming the
// field, before anything is created.
func TestRefusals(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(s *specs.Spec)
		want   string
	}{
		{"spec version", func(s *specs.Spec) { s.Version = "2.0.0" }, `ociVersion "2.0.0"`},
		{"no process", func(s *specs.Spec) { s.Process = nil }, "process: missing"},
		{"no args", func(s *specs.Spec) { s.Process.Args = nil }, "process.args: empty"},
		{"relative cwd", func(s *specs.Spec) { s.Process.Cwd = "tmp" }, `process.cwd "tmp"`},
		{"command line", func(s *specs.Spec) { s.Process.CommandLine = "cmd.exe" }, "process.commandLine: not supported"},
		{"scheduler", func(s *specs.Spec) { s.Process.Scheduler = &specs.Scheduler{Policy: "SCHED_FIFO"} }, "process.scheduler: not supported"},
		{"io priority", func(s *specs.Spec) { s.Process.IOPriority = &specs.LinuxIOPriority{} }, "process.ioPriority: not supported"},
		{"exec cpu affinity", func(s *specs.Spec) { s.Process.ExecCPUAffinity = &specs.CPUAffinity{Initial: "0"} }, "process.execCPUAffinity: not supported"},
		{"windows", func(s *specs.Spec) { s.Windows = &specs.Windows{} }, "windows: not supported"},
		{"solaris", func(s *specs.Spec) { s.Solaris = &specs.Solaris{} }, "solaris: not supported"},
		{"vm", func(s *specs.Spec) { s.VM = &specs.VM{} }, "vm: not supported"},
		{"zos", func(s *specs.Spec) { s.ZOS = &specs.ZOS{} }, "zos: not supported"},
		{"no linux", func(s *specs.Spec) { s.Linux = nil }, "linux: missing"},
		{"intel rdt", func(s *specs.Spec) { s.Linux.IntelRdt = &specs.LinuxIntelRdt{} }, "linux.intelRdt: not supported"},
		{"personality", func(s *specs.Spec) { s.Linux.Personality = &specs.LinuxPersonality{Domain: "LINUX32"} }, "linux.personality: not supported"},
		{"time offsets", func(s *specs.Spec) {
			s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"monotonic": {Secs: 1}}
		}, "linux.timeOffsets: not supported"},
		{"hostname without uts", func(s *specs.Spec) { s.Linux.Namespaces = without(s, specs.UTSNamespace) }, "hostname: set without a uts namespace"},
		{"domainname without uts", func(s *specs.Spec) {
			s.Hostname = ""
			s.Domainname = "example.org"
			s.Linux.Namespaces = without(s, specs.UTSNamespace)
		}, "domainname: set without a uts namespace"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := baseSpec("/rootfs", "true")
			tc.change(s)
			b, err := json.Marshal(s)
			require.NoError(t, err)
			_, err = ParseConfig(b)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

// TestUnknownFields: in a config of berth-runtime's spec version or an
// older one, an unknown property is an extension the spec says to
// ignore (with a warning); in a newer one it may be a feature berth
// lacks, which a plain decoder would drop: refused, by name.
func TestUnknownFields(t *testing.T) {
	var warned []string
	was := Warn
	Warn = func(err error) { warned = append(warned, err.Error()) }
	t.Cleanup(func() { Warn = was })
	for _, tc := range []struct {
		version, err string
	}{
		{specs.Version, ""},
		{"1.0.2", ""},
		{"1.0.2-dev", ""},
		{"1.99.0", `unknown field "netDevices": not supported by berth-runtime`},
		{"2.0.0", `unknown field "netDevices": not supported by berth-runtime`},
		{"one", `unknown field "netDevices": not supported by berth-runtime`},
	} {
		t.Run(tc.version, func(t *testing.T) {
			warned = nil
			s := baseSpec("/rootfs", "true")
			s.Version = tc.version
			b, err := json.Marshal(s)
			require.NoError(t, err)
			b = []byte(strings.Replace(string(b), `"linux":{`, `"linux":{"netDevices":{"eth0":{}},`, 1))
			got, err := ParseConfig(b)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				assert.Empty(t, warned)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, []string{"true"}, got.Process.Args)
			require.Len(t, warned, 1)
			assert.Contains(t, warned[0], `unknown field "netDevices": ignored`)
		})
	}
}

func TestNamespaceRefusals(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(s *specs.Spec)
		want   string
	}{
		{"time namespace", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.TimeNamespace})
		}, "linux.namespaces: time: not supported"},
		{"join user", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace, Path: "/proc/1/ns/user"})
		}, "joining a user namespace is not supported"},
		{"twice", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.PIDNamespace})
		}, "linux.namespaces: pid listed twice"},
		{"unknown", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "bogus"})
		}, `unknown type "bogus"`},
		{"user namespace without mount namespace", func(s *specs.Spec) {
			s.Linux.Namespaces = append(without(s, specs.MountNamespace), specs.LinuxNamespace{Type: specs.UserNamespace})
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
			s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
		}, "linux.namespaces: user without mount"},
		{"mappings without user namespace", func(s *specs.Spec) {
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
		}, "linux.uidMappings: set without a user namespace"},
		{"two uid ranges", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 1}, {ContainerID: 1, HostID: 200000, Size: 10}}
			s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
		}, "linux.uidMappings: berth-runtime maps exactly one range starting at container id 0"},
		{"sysctl of the host", func(s *specs.Spec) { s.Linux.Sysctl = map[string]string{"kernel.panic": "1"} }, "linux.sysctl"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := baseSpec("/rootfs", "true")
			tc.change(s)
			_, _, err := namespaceConfig(s)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestNamespaceConfig(t *testing.T) {
	s := baseSpec("/rootfs", "true")
	s.Linux.Namespaces = []specs.LinuxNamespace{
		{Type: specs.MountNamespace}, {Type: specs.UTSNamespace, Path: "/proc/7/ns/uts"},
		{Type: specs.NetworkNamespace, Path: "/var/run/netns/x"}, {Type: specs.CgroupNamespace},
		{Type: specs.UserNamespace},
	}
	s.Hostname = ""
	s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 200000, Size: 1000}}
	// (Validate refuses joining with a user namespace of the container's
	// own: check the translation before it.)
	cfg, ns, err := namespaceConfig(s)
	require.ErrorContains(t, err, "cannot be shared from a user namespace")
	assert.Equal(t, "/proc/7/ns/uts", cfg.JoinUtsns)
	assert.Equal(t, "/var/run/netns/x", cfg.JoinNetns)
	assert.True(t, cfg.HostPID)
	assert.True(t, cfg.HostIPC)
	assert.False(t, cfg.HostCgroupns)
	assert.True(t, cfg.UserNS)
	assert.Equal(t, 100000, cfg.UIDs.Base)
	assert.Equal(t, 200000, cfg.GIDs.Base)
	assert.Equal(t, 1000, cfg.GIDs.Size)
	assert.Equal(t, []string{"true"}, ns.Command.Args)
}

// No "mount" in linux.namespaces: the runtime's own, as for any type
// not listed; chapter 01 forks without CLONE_NEWNS and Setup leaves the
// host's propagation alone. linux_ns_itype lists no namespace at all.
func TestNamespaceConfigNoneListed(t *testing.T) {
	s := baseSpec("/rootfs", "true")
	s.Linux.Namespaces = nil
	s.Hostname = ""
	cfg, ns, err := namespaceConfig(s)
	require.NoError(t, err)
	assert.True(t, cfg.HostMounts)
	assert.True(t, ns.HostMounts)
	assert.True(t, cfg.HostPID)
	assert.True(t, cfg.HostNetwork)
	assert.True(t, cfg.HostIPC)
	assert.True(t, cfg.HostUTS)
	assert.True(t, cfg.HostCgroupns)
	assert.False(t, cfg.UserNS)

	s = baseSpec("/rootfs", "true")
	cfg, ns, err = namespaceConfig(s)
	require.NoError(t, err)
	assert.False(t, cfg.HostMounts)
	assert.False(t, ns.HostMounts)
}

func TestCgroupName(t *testing.T) {
	for _, tc := range []struct {
		path, parent, name, err string
	}{
		{"", DefaultCgroupParent, "ID", ""},
		{"/default/abc", "default", "abc", ""},
		{"/kubepods/besteffort/pod1/abc", "kubepods/besteffort/pod1", "abc", ""},
		{"default/abc", "default", "abc", ""},
		{"/abc", "", "abc", ""}, // at the hierarchies' roots, as runc
		{"/", "", "", "names no cgroup"},
		{"test.slice:cri-containerd:abc", "", "test.slice:cri-containerd:abc", ""},
		{"/a/../../b/c", "", "", "not allowed"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			s := baseSpec("/rootfs", "true")
			s.Linux.CgroupsPath = tc.path
			parent, name, err := cgroupName(s, "ID")
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.parent, parent)
			assert.Equal(t, tc.name, name)
		})
	}
}

func TestCheckID(t *testing.T) {
	for id, ok := range map[string]bool{
		"abc": true, "a.b-c_d+e": true, "0123456789abcdef": true,
		"": false, ".": false, "..": false, "a/b": false, "../x": false, "a b": false, "a\x00b": false, "a:b": false,
	} {
		err := CheckID(id)
		assert.Equal(t, ok, err == nil, "%q: %v", id, err)
	}
}

func TestLoadBundle(t *testing.T) {
	dir := t.TempDir()
	_, err := LoadBundle(dir)
	require.ErrorContains(t, err, "config.json")
	b, err := json.Marshal(baseSpec("rootfs", "true"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644))
	bundle, err := LoadBundle(dir)
	require.NoError(t, err)
	assert.Equal(t, dir, bundle.Dir)
	assert.Equal(t, []string{"true"}, bundle.Spec.Process.Args)
}

// without returns s's namespaces but those of type t.
func without(s *specs.Spec, t specs.LinuxNamespaceType) []specs.LinuxNamespace {
	var out []specs.LinuxNamespace
	for _, n := range s.Linux.Namespaces {
		if n.Type != t {
			out = append(out, n)
		}
	}
	return out
}

func TestParseSignal(t *testing.T) {
	for in, want := range map[string]int{"9": 9, "KILL": 9, "SIGKILL": 9, "kill": 9, "term": 15, "0": 0, "SIGRTMIN+1": -1, "65": -1, "-1": -1, "NOPE": -1} {
		sig, err := ParseSignal(in)
		if want < 0 {
			assert.Error(t, err, in)
			continue
		}
		require.NoError(t, err, in)
		assert.Equal(t, want, int(sig), in)
	}
}

package ociruntime

import (
	"encoding/json"
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/03-rootfs/rootfs"
	"github.com/berth-project/berth/03-rootfs/seccomp"
)

// TestFeatures_TrueToTheCode: every seccomp action, operator,
// architecture and flag the features list compiles with chapter 03's
// compiler; those it leaves out are refused; every mount option parses;
// every capability is known.
func TestFeatures_TrueToTheCode(t *testing.T) {
	f := Features("test")
	assert.Equal(t, specs.Version, f.OCIVersionMax)
	assert.Equal(t, "test", f.Annotations["org.berth-project.runtime.version"])
	sc := f.Linux.Seccomp
	compile := func(s specs.LinuxSeccomp) error {
		_, err := seccomp.CompileSpec(&s)
		return err
	}
	for _, a := range sc.Actions {
		assert.NoError(t, compile(specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
			Syscalls: []specs.LinuxSyscall{{Names: []string{"getpid"}, Action: specs.LinuxSeccompAction(a)}}}), a)
	}
	assert.Error(t, compile(specs.LinuxSeccomp{DefaultAction: specs.ActNotify}), "SCMP_ACT_NOTIFY is left out: refused")
	assert.NotContains(t, sc.Actions, string(specs.ActNotify))
	for _, op := range sc.Operators {
		assert.NoError(t, compile(specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
			Syscalls: []specs.LinuxSyscall{{Names: []string{"getpid"}, Action: specs.ActErrno,
				Args: []specs.LinuxSeccompArg{{Index: 0, Value: 1, ValueTwo: 1, Op: specs.LinuxSeccompOperator(op)}}}}}), op)
	}
	for _, a := range sc.Archs {
		assert.NoError(t, compile(specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{specs.Arch(a)}}), a)
	}
	for _, fl := range sc.SupportedFlags {
		assert.NoError(t, compile(specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Flags: []specs.LinuxSeccompFlag{specs.LinuxSeccompFlag(fl)}}), fl)
	}
	for _, fl := range sc.KnownFlags {
		if !slices.Contains(sc.SupportedFlags, fl) {
			assert.Error(t, compile(specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Flags: []specs.LinuxSeccompFlag{specs.LinuxSeccompFlag(fl)}}), fl)
		}
	}

	for _, o := range f.MountOptions {
		m := specs.Mount{Destination: "/x", Type: "tmpfs", Source: "tmpfs", Options: []string{o}}
		if o == "bind" || o == "rbind" {
			m.Type, m.Source = "", "/src"
		}
		_, err := parseMount(0, m, "/bundle")
		assert.NoError(t, err, o)
	}
	_, err := parseMount(0, specs.Mount{Destination: "/x", Type: "tmpfs", Source: "tmpfs", Options: []string{"idmap"}}, "/bundle")
	assert.Error(t, err, "idmap is left out: refused")

	for _, c := range f.Linux.Capabilities {
		_, err := rootfs.ParseCapability(c)
		assert.NoError(t, err, c)
	}
	assert.False(t, *f.Linux.Cgroup.Systemd, "--systemd-cgroup is refused")
	assert.False(t, *f.Linux.Apparmor.Enabled)
	assert.False(t, *f.Linux.Selinux.Enabled)

	b, err := json.Marshal(f)
	require.NoError(t, err)
	assert.Contains(t, string(b), `"ociVersionMin":"1.0.0"`)
}

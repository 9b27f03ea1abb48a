package ociruntime

import (
	"encoding/json"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestForkConfig: what forkConfig reads alone forks init as the whole
// bundle's translation does, and it declines what it cannot decide
// alone (a terminal, no linux section, a refused namespace list).
func TestForkConfig(t *testing.T) {
	nss := func(types ...specs.LinuxNamespaceType) []specs.LinuxNamespace {
		var out []specs.LinuxNamespace
		for _, t := range types {
			out = append(out, specs.LinuxNamespace{Type: t})
		}
		return out
	}
	bare := nss(specs.PIDNamespace, specs.IPCNamespace, specs.UTSNamespace, specs.MountNamespace)
	tests := []struct {
		name   string
		spec   specs.Spec
		forked bool // forkConfig decides the fork alone
	}{
		{"runc spec without a network namespace", specs.Spec{Process: &specs.Process{Args: []string{"true"}}, Linux: &specs.Linux{Namespaces: bare}}, true},
		{"every namespace but user", specs.Spec{Process: &specs.Process{Args: []string{"true"}}, Linux: &specs.Linux{Namespaces: append(nss(specs.NetworkNamespace, specs.CgroupNamespace), bare...)}}, true},
		{"a user namespace and its mappings", specs.Spec{Process: &specs.Process{Args: []string{"true"}}, Linux: &specs.Linux{
			Namespaces:  append(nss(specs.UserNamespace), bare...),
			UIDMappings: []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}},
			GIDMappings: []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}},
		}}, true},
		{"a joined namespace", specs.Spec{Process: &specs.Process{Args: []string{"true"}}, Linux: &specs.Linux{Namespaces: append([]specs.LinuxNamespace{{Type: specs.NetworkNamespace, Path: "/proc/1/ns/net"}}, bare...)}}, true},
		{"a terminal", specs.Spec{Process: &specs.Process{Args: []string{"true"}, Terminal: true}, Linux: &specs.Linux{Namespaces: bare}}, false},
		{"no linux section", specs.Spec{Process: &specs.Process{Args: []string{"true"}}}, false},
		{"a namespace listed twice", specs.Spec{Process: &specs.Process{Args: []string{"true"}}, Linux: &specs.Linux{Namespaces: append(nss(specs.PIDNamespace), bare...)}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, err := json.Marshal(&tt.spec)
			require.NoError(t, err)
			cfg, ok := forkConfig(raw)
			require.Equal(t, tt.forked, ok)
			if !ok {
				return
			}
			whole, _, err := namespaceConfig(&tt.spec)
			require.NoError(t, err)
			assert.True(t, sameFork(cfg, whole), "forkConfig: %+v\nnamespaceConfig: %+v", cfg, whole)
		})
	}
}

// TestSameForkIgnoresWhatStartSets: the descriptors, environment and
// detachment set for the fork itself are not how it forks; a clone flag
// is.
func TestSameForkIgnoresWhatStartSets(t *testing.T) {
	spec := specs.Spec{Process: &specs.Process{Args: []string{"true"}}, Linux: &specs.Linux{Namespaces: []specs.LinuxNamespace{{Type: specs.MountNamespace}, {Type: specs.PIDNamespace}}}}
	a, _, err := namespaceConfig(&spec)
	require.NoError(t, err)
	b := a
	a.InitEnv, a.Detached, a.NoPrestart = initTuning, true, true
	assert.True(t, sameFork(a, b))
	b.HostPID = !b.HostPID
	assert.False(t, sameFork(a, b))
}

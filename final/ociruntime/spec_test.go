package ociruntime

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDefaultSpec: runc's starting point (sh on a terminal in ./rootfs),
// and what --rootless changes.
func TestDefaultSpec(t *testing.T) {
	s := DefaultSpec(false, 0, 0)
	assert.Equal(t, []string{"sh"}, s.Process.Args)
	assert.True(t, s.Process.Terminal)
	assert.Equal(t, "rootfs", s.Root.Path)
	assert.True(t, s.Root.Readonly)
	assert.True(t, s.Process.NoNewPrivileges)
	assert.Empty(t, s.Process.Capabilities.Inheritable)
	assert.Equal(t, s.Process.Capabilities.Bounding, s.Process.Capabilities.Ambient, "runc's")
	assert.Len(t, s.Linux.Namespaces, 5)
	assert.Contains(t, s.Linux.MaskedPaths, "/proc/kcore")
	_, err := NewSecurity(s)
	assert.NoError(t, err, "berth accepts its own default")
	bundle := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(bundle, "rootfs"), 0o755))
	_, err = NewRootfs(s, bundle, false)
	assert.NoError(t, err)

	r := DefaultSpec(true, 1000, 1001)
	assert.Contains(t, r.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
	assert.NotContains(t, r.Linux.Namespaces, specs.LinuxNamespace{Type: specs.NetworkNamespace})
	assert.Equal(t, []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}}, r.Linux.UIDMappings)
	assert.Equal(t, []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1001, Size: 1}}, r.Linux.GIDMappings)
	assert.Nil(t, r.Linux.Resources)
	for _, m := range r.Mounts {
		switch m.Destination {
		case "/sys":
			assert.Equal(t, "/sys", m.Source)
			assert.Contains(t, m.Options, "rbind")
		case "/dev/pts":
			assert.NotContains(t, m.Options, "gid=5")
		}
	}
	assert.Equal(t, "sysfs", s.Mounts[5].Type, "the first spec is not changed")
}

// TestWriteSpec: config.json is written once and never replaced.
func TestWriteSpec(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, WriteSpec(dir, false))
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	require.NoError(t, err)
	var s specs.Spec
	require.NoError(t, json.Unmarshal(b, &s))
	assert.Equal(t, specs.Version, s.Version)
	err = WriteSpec(dir, true)
	assert.ErrorContains(t, err, "exists: remove it first")
	assert.Error(t, WriteSpec(filepath.Join(dir, "missing"), false))
}

package cgroup

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCleanParent(t *testing.T) {
	for _, tc := range []struct {
		in, want, err string
	}{
		{in: "", want: DefaultParent},
		{in: "berth", want: "berth"},
		{in: "/batch", want: "batch"},
		{in: "batch/jobs/", want: "batch/jobs"},
		{in: "//batch//jobs", want: "batch/jobs"},
		{in: "./batch", want: "batch"},
		{in: "..", err: `".." is not allowed`},
		{in: "../up", err: `".." is not allowed`},
		{in: "a/../b", err: `".." is not allowed`},
		{in: "/", err: "root of the hierarchy"},
		{in: ".", err: "root of the hierarchy"},
		{in: "a\x00b", err: "NUL"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := CleanParent(tc.in)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

// A parent of several levels is made level by level; on v2 each level
// hands the controllers down to the next, or the container's cgroup
// would have no memory.max.
func TestNewUnderNestedParentV2(t *testing.T) {
	h, k := newFakeV2(t)
	c, err := h.Under("/batch/jobs").New("web", limits)
	require.NoError(t, err)
	dir := filepath.Join(k.root, "batch", "jobs", "web")
	assert.Equal(t, []string{dir}, c.Dirs())
	for _, level := range []string{"", "batch", "batch/jobs"} {
		assert.Equal(t, "+cpu +memory +pids", k.read(filepath.Join(k.root, level, "cgroup.subtree_control")), level)
	}
	assert.Equal(t, "67108864", k.read(filepath.Join(dir, "memory.max")))

	loaded, err := h.Under("batch/jobs").Load("web")
	require.NoError(t, err)
	assert.Equal(t, c.Dirs(), loaded.Dirs())
	_, err = h.Load("web")
	assert.ErrorIs(t, err, os.ErrNotExist, "not under the default parent")
}

func TestNewUnderParentV1AndRemoveParent(t *testing.T) {
	h, _ := newFakeV1(t, "memory", "cpu,cpuacct", "pids", "freezer")
	own := h.Under("berth-test")
	c, err := own.New("web", limits)
	require.NoError(t, err)
	for _, ctrl := range []string{"memory", "cpu", "cpuacct", "pids", "freezer"} {
		assert.Equal(t, filepath.Join(h.Mounts[ctrl], "berth-test", "web"), c.Path(ctrl))
	}
	_, err = os.Stat(filepath.Join(h.Mounts["memory"], DefaultParent))
	assert.ErrorIs(t, err, os.ErrNotExist, "the default parent is not made")

	require.Error(t, own.RemoveParent(), "a container's cgroup is still inside")
	require.NoError(t, c.Destroy())
	require.NoError(t, own.RemoveParent())
	for _, mnt := range h.Mounts {
		_, err := os.Stat(filepath.Join(mnt, "berth-test"))
		assert.ErrorIs(t, err, os.ErrNotExist, mnt)
	}
	require.NoError(t, own.RemoveParent(), "removing it again is no error")
}

func TestBadParentCreatesNothing(t *testing.T) {
	h, _ := newFakeV1(t, "memory")
	_, err := h.Under("../escape").New("web", limits)
	require.ErrorContains(t, err, `".."`)
	_, err = h.Under("../escape").Load("web")
	require.ErrorContains(t, err, `".."`)
	entries, err := os.ReadDir(h.Mounts["memory"])
	require.NoError(t, err)
	for _, e := range entries {
		assert.False(t, e.IsDir(), "nothing made: %s", e.Name())
	}
}

// What a container mounts at /sys/fs/cgroup: every hierarchy it is in,
// under the host's names, in the host's order (the hierarchy IDs), a
// co-mounted one with links for its controllers, systemd's named one
// with its name as the source.
func TestNSMounts(t *testing.T) {
	h := &Hierarchy{Version: Hybrid, Mounts: map[string]string{
		"cpu": "/sys/fs/cgroup/cpu,cpuacct", "cpuacct": "/sys/fs/cgroup/cpu,cpuacct",
		"memory": "/sys/fs/cgroup/memory", "pids": "/sys/fs/cgroup/pids",
		"name=systemd": "/sys/fs/cgroup/systemd",
	}}
	ids := hierarchyIDs("12:pids:/berth/x\n4:memory:/berth/x\n1:name=systemd:/berth/x\n3:cpu,cpuacct:/berth/x\n0::/\n")
	assert.Equal(t, []NSMount{
		{Name: "systemd", Type: "cgroup", Source: "systemd", Options: "name=systemd"},
		{Name: "cpu,cpuacct", Type: "cgroup", Source: "cgroup", Options: "cpu,cpuacct", Links: []string{"cpu", "cpuacct"}},
		{Name: "memory", Type: "cgroup", Source: "cgroup", Options: "memory"},
		{Name: "pids", Type: "cgroup", Source: "cgroup", Options: "pids"},
	}, h.nsMounts(ids))
}

func TestHierarchyPaths(t *testing.T) {
	paths := hierarchyPaths("12:pids:/berth/x\n3:cpu,cpuacct:/berth/y\n1:name=systemd:/\n0::/user.slice\n")
	assert.Equal(t, map[string]string{
		"pids": "/berth/x", "cpu": "/berth/y", "cpuacct": "/berth/y",
		"name=systemd": "/", "": "/user.slice",
	}, paths)
}

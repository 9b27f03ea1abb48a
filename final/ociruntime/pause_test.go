//go:build cgo

package ociruntime

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/labtest"
	"github.com/berth-project/berth/02-cgroups/cgroup"
)

// TestPauseResume_Live: pause freezes the container's cgroup, resume
// thaws it, and resuming what is not paused is refused.
func TestPauseResume_Live(t *testing.T) {
	c := startLiveContainer(t)
	require.NoError(t, Pause(c.root, c.id))
	st, err := c.cg.FreezerState()
	require.NoError(t, err)
	assert.Equal(t, cgroup.Frozen, st)
	require.NoError(t, Pause(c.root, c.id), "pausing a paused container is no error")

	require.NoError(t, Resume(c.root, c.id))
	st, err = c.cg.FreezerState()
	require.NoError(t, err)
	assert.Equal(t, cgroup.Thawed, st)
	err = Resume(c.root, c.id)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "is not paused")

	_, err = recordCgroup(&Record{ID: "x", CgroupPaths: []string{"/tmp/not-a-cgroup"}})
	assert.ErrorContains(t, err, "under no cgroup mount")
	assert.ErrorIs(t, Pause(c.root, "no-such-container"), ErrNotExist)
}

// TestCommandsFindACgroupAtTheRoot: a container whose one-element
// linux.cgroupsPath put its cgroup at the hierarchies' roots is found
// there by ps, pause and resume.
func TestCommandsFindACgroupAtTheRoot(t *testing.T) {
	e := newEnv(t)
	id := labtest.Unique("r3root")
	spec := baseSpec(labtest.BusyboxRootfs(t), "sleep", "600")
	spec.Linux.CgroupsPath = "/" + id
	dir := t.TempDir()
	b, err := json.Marshal(spec)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644))
	c, err := Create(e.root, CreateOptions{ID: id, Bundle: dir})
	require.NoError(t, err)
	t.Cleanup(func() {
		assert.NoError(t, Delete(e.root, id, true))
		_, _ = c.Init.Wait()
	})
	require.NoError(t, Start(e.root, id))
	for _, d := range c.Record.CgroupPaths {
		assert.Equal(t, id, filepath.Base(d))
		assert.NotContains(t, filepath.Dir(d), cgroup.DefaultParent)
	}
	pids, err := Pids(e.root, id)
	require.NoError(t, err)
	assert.Equal(t, []int{c.Init.Pid()}, pids)
	require.NoError(t, Pause(e.root, id))
	require.NoError(t, Resume(e.root, id))
}

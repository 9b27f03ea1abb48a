//go:build cgo

package ociruntime

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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

package cgroup

import (
	"io/fs"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/labtest"
	"github.com/berth-project/berth/01-namespaces/namespace"
)

// NoCgroup (a rootless daemon's) makes no cgroup, and refuses a limit
// rather than run the container without it.
func TestNoCgroup(t *testing.T) {
	for _, tc := range []struct {
		name   string
		limits Resources
		err    string
	}{
		{name: "no limits"},
		{name: "memory", limits: Resources{Memory: 10 << 20}, err: "need a cgroup"},
		{name: "cpus", limits: Resources{CPUs: 0.5}, err: "need a cgroup"},
		{name: "pids", limits: Resources{PidsMax: 10}, err: "need a cgroup"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := labtest.Unique("nocg")
			o := RunOptions{Limits: tc.limits, NoCgroup: true}
			c, err := o.Container(id, []string{"true"}, namespace.Stdio{})
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.NoError(t, c.Close())
			_, err = Load(id)
			assert.ErrorIs(t, err, fs.ErrNotExist, "no cgroup was made")
			oom, err := o.Cleanup(id)
			assert.NoError(t, err)
			assert.False(t, oom)
		})
	}
}

package cgroup

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// fakeStatfs answers statfs from a table of path -> filesystem magic.
func fakeStatfs(magics map[string]int64) func(string, *unix.Statfs_t) error {
	return func(path string, st *unix.Statfs_t) error {
		m, ok := magics[path]
		if !ok {
			return unix.ENOENT
		}
		st.Type = m
		return nil
	}
}

func TestDetect(t *testing.T) {
	const ext4 = 0xEF53
	for _, tc := range []struct {
		name   string
		magics map[string]int64
		want   Version
	}{
		{"unified", map[string]int64{"/cg": unix.CGROUP2_SUPER_MAGIC}, V2},
		{"hybrid", map[string]int64{"/cg": unix.TMPFS_MAGIC, "/cg/unified": unix.CGROUP2_SUPER_MAGIC}, Hybrid},
		{"legacy without unified", map[string]int64{"/cg": unix.TMPFS_MAGIC}, V1},
		{"legacy, unified is a plain dir", map[string]int64{"/cg": unix.TMPFS_MAGIC, "/cg/unified": unix.TMPFS_MAGIC}, V1},
		{"single v1 hierarchy on the root", map[string]int64{"/cg": unix.CGROUP_SUPER_MAGIC}, V1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := detect(fakeStatfs(tc.magics), "/cg")
			require.NoError(t, err)
			assert.Equal(t, tc.want, v)
		})
	}

	_, err := detect(fakeStatfs(map[string]int64{"/cg": ext4}), "/cg")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "/cg is neither cgroup2 nor tmpfs")

	_, err = detect(fakeStatfs(nil), "/cg")
	require.ErrorIs(t, err, unix.ENOENT)
	assert.Contains(t, err.Error(), "statfs /cg")
}

func TestVersionString(t *testing.T) {
	assert.Equal(t, "v1", V1.String())
	assert.Equal(t, "v2", V2.String())
	assert.Equal(t, "hybrid", Hybrid.String())
	assert.Equal(t, "Version(0)", Version(0).String())
}

func TestV1Mounts(t *testing.T) {
	const mountinfo = `22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
31 23 0:28 / /sys/fs/cgroup ro,nosuid shared:9 - tmpfs tmpfs ro,mode=755
32 31 0:29 / /sys/fs/cgroup/unified rw shared:10 - cgroup2 cgroup2 rw,nsdelegate
33 31 0:30 / /sys/fs/cgroup/systemd rw shared:11 - cgroup cgroup rw,xattr,name=systemd
34 31 0:31 / /sys/fs/cgroup/cpu,cpuacct rw shared:12 - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw shared:13 - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/cpuset rw - cgroup cgroup rw,cpuset
37 31 0:34 / /sys/fs/cgroup/my\040pids rw shared:14 master:3 - cgroup cgroup rw,pids
90 22 0:32 /docker /var/lib/other/memory rw - cgroup cgroup rw,memory
`
	got, err := v1Mounts(strings.NewReader(mountinfo))
	require.NoError(t, err)
	assert.Equal(t, map[string]string{
		"cpu":     "/sys/fs/cgroup/cpu,cpuacct",
		"cpuacct": "/sys/fs/cgroup/cpu,cpuacct",
		"memory":  "/sys/fs/cgroup/memory", // the first mount wins over the later bind mount
		"pids":    "/sys/fs/cgroup/my pids",
		// Joined only for the container's cgroup namespace (v1Others).
		"cpuset":       "/sys/fs/cgroup/cpuset",
		"name=systemd": "/sys/fs/cgroup/systemd",
	}, got)

	got, err = v1Mounts(strings.NewReader("garbage\n\n1 2 3\n"))
	require.NoError(t, err)
	assert.Empty(t, got)
}

func TestUnescapeMountinfo(t *testing.T) {
	assert.Equal(t, "/a b", UnescapeMountinfo(`/a\040b`))
	assert.Equal(t, `/a\b`, UnescapeMountinfo(`/a\134b`))
	assert.Equal(t, "/plain", UnescapeMountinfo("/plain"))
	assert.Equal(t, `/trailing\04`, UnescapeMountinfo(`/trailing\04`))
}

package tuning

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/01-namespaces/labtest"
)

const hybridMountinfo = `25 30 0:23 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
26 25 0:24 / /sys/fs/cgroup rw,relatime shared:8 - tmpfs tmpfs rw,mode=755
27 26 0:25 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:9 - cgroup cgroup rw,memory
35 26 0:30 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
`

// mountCall is one recorded mount(2).
type mountCall struct {
	target string
	flags  uintptr
	data   string
}

func recordMounts(calls *[]mountCall, err error) mountFunc {
	return func(_, target, _ string, flags uintptr, data string) error {
		*calls = append(*calls, mountCall{target, flags, data})
		return err
	}
}

// The remount repeats the mount's flags and the superblock's options:
// dropping nsdelegate or nosuid on the way would change the host.
func TestFavorDynModsRemountKeepsEveryOption(t *testing.T) {
	var calls []mountCall
	changed, err := favorDynMods(strings.NewReader(hybridMountinfo), recordMounts(&calls, nil))
	require.NoError(t, err)
	assert.True(t, changed)
	require.Len(t, calls, 1)
	assert.Equal(t, "/sys/fs/cgroup/unified", calls[0].target)
	assert.Equal(t, uintptr(unix.MS_REMOUNT|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC|unix.MS_RELATIME), calls[0].flags)
	assert.Equal(t, "nsdelegate,memory_recursiveprot,favordynmods", calls[0].data)
}

func TestFavorDynModsAlreadySetOrNoCgroup2(t *testing.T) {
	for name, table := range map[string]string{
		"already set": strings.Replace(hybridMountinfo, "rw,nsdelegate", "rw,nsdelegate,favordynmods", 1),
		"pure v1":     strings.Split(hybridMountinfo, "35 26")[0],
	} {
		t.Run(name, func(t *testing.T) {
			var calls []mountCall
			changed, err := favorDynMods(strings.NewReader(table), recordMounts(&calls, nil))
			require.NoError(t, err)
			assert.False(t, changed)
			assert.Empty(t, calls)
		})
	}
}

func TestFavorDynModsErrorNamesTheMount(t *testing.T) {
	var calls []mountCall
	_, err := favorDynMods(strings.NewReader(hybridMountinfo), recordMounts(&calls, unix.EINVAL))
	require.ErrorIs(t, err, unix.EINVAL)
	assert.Contains(t, err.Error(), "/sys/fs/cgroup/unified")
}

// On this host: after FavorDynMods the cgroup2 mount has the option, and
// every option it had before. The test puts back what it found: the
// option is a host-wide setting.
func TestFavorDynModsOnThisHost(t *testing.T) {
	labtest.Privileged(t)
	before, ok := hostCgroup2(t)
	labtest.Need(t, ok, "no cgroup2 filesystem is mounted")
	had := slices.Contains(before.superOpts, "favordynmods")
	t.Cleanup(func() {
		_, err := SetFavorDynMods(had)
		assert.NoError(t, err, "putting the host's cgroup2 mount back")
	})
	_, err := FavorDynMods()
	require.NoError(t, err)
	after, _ := hostCgroup2(t)
	assert.Contains(t, after.superOpts, "favordynmods")
	assert.Subset(t, after.superOpts, before.superOpts)
	assert.Equal(t, before.flags, after.flags)
	assert.Equal(t, before.point, after.point)
}

func hostCgroup2(t *testing.T) (cgroup2Mount, bool) {
	f, err := os.Open("/proc/self/mountinfo")
	require.NoError(t, err)
	defer f.Close()
	m, ok, err := findCgroup2(f)
	require.NoError(t, err)
	return m, ok
}

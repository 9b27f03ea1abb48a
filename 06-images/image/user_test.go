package image

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeImageRoot is a root directory with the given /etc/passwd and
// /etc/group.
func fakeImageRoot(t *testing.T, passwd, group string) string {
	t.Helper()
	root := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(root, "etc"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, "etc/passwd"), []byte(passwd), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(root, "etc/group"), []byte(group), 0o644))
	return root
}

// TestGroups: the supplementary groups Docker gives, as measured with
// dockerd (final/daemon's TestSameAsDockerd_Groups): the primary group,
// the groups that list the user by name (not when -u names a group),
// then --group-add's, by name or number, without repeats.
func TestGroups(t *testing.T) {
	root := fakeImageRoot(t,
		"root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/:/bin/sh\n",
		"root:x:0:\nwheel:x:10:root,app\nstaff:x:50:app\napp:x:1000:\n")
	roots := []string{root}
	for _, tc := range []struct {
		user string
		add  []string
		want []uint32
	}{
		{"", nil, []uint32{0, 10}},
		{"root", nil, []uint32{0, 10}},
		{"app", nil, []uint32{1000, 10, 50}},
		{"1000", nil, []uint32{1000, 10, 50}},
		{"app:staff", nil, []uint32{50}},
		{"2000:3000", nil, []uint32{3000}},
		{"app", []string{"staff", "4242", "wheel"}, []uint32{1000, 10, 50, 4242}},
		{"", []string{"1000"}, []uint32{0, 10, 1000}},
	} {
		uid, gid, err := LookupUser(roots, tc.user)
		require.NoError(t, err, tc.user)
		_ = uid
		got, err := Groups(roots, tc.user, gid, tc.add)
		require.NoError(t, err, tc.user)
		assert.Equal(t, tc.want, got, "-u %q --group-add %v", tc.user, tc.add)
	}
	_, err := Groups(roots, "", 0, []string{"nosuch"})
	assert.EqualError(t, err, "unable to find group nosuch: no matching entries in group file")
	_, err = Groups(roots, "", 0, []string{"4294967295"})
	assert.Error(t, err, "beyond the gids the kernel takes")
}

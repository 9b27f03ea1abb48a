package main

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/labtest"
	"github.com/berth-project/berth/04-cow-layers/volume"
)

// TestVolumesOutliveTheContainer: -v NAME:/path mounts a volume of the
// store under --root, filled from the image the first time; it is still
// there, with what the container wrote, when the next container mounts
// it. An anonymous volume (-v /path) goes with its container.
func TestVolumesOutliveTheContainer(t *testing.T) {
	labtest.Privileged(t)
	root := t.TempDir()
	image := labtest.BusyboxRootfs(t) + ":" + makeLayer(t, map[string]string{"data/conf": "from-image\n", "cache/x": "x"})
	run := func(script string, flags ...string) string {
		args := append([]string{"run", "--root", root, "--image", image}, flags...)
		out, errOut, status := runProgram(t, append(args, "--", "/bin/sh", "-c", script)...)
		require.Equal(t, 0, status, "stderr: %s", errOut)
		return out
	}
	out := run("cat /data/conf; echo written > /data/new; ls /cache; grep -c ' /cache ' /proc/mounts",
		"-v", "db:/data", "-v", "/cache")
	assert.Equal(t, "from-image\nx\n1\n", out, "copied up from the image, anonymous volume mounted")

	store, err := volume.Open(root)
	require.NoError(t, err)
	list, err := store.List()
	require.NoError(t, err)
	require.Len(t, list, 1, "the anonymous volume went with the container")
	assert.Equal(t, "db", list[0].Name)
	data, err := os.ReadFile(filepath.Join(list[0].Mountpoint, "new"))
	require.NoError(t, err)
	assert.Equal(t, "written\n", string(data))

	out = run("cat /data/conf /data/new; echo x > /data/ro 2>/dev/null || echo refused", "-v", "db:/data:ro")
	assert.Equal(t, "from-image\nwritten\nrefused\n", out)
	out = run("ls /data | wc -l", "-v", "empty:/data:nocopy")
	assert.Equal(t, "0\n", out, "nocopy leaves a new volume empty")
	out = run("df -k /scratch | tail -n 1", "--tmpfs", "/scratch:size=2m")
	assert.Regexp(t, `^tmpfs\s+2048\s`, out)

	out, errOut, status := runProgram(t, "volume", "--root", root, "ls")
	require.Equal(t, 0, status, errOut)
	assert.Regexp(t, `^NAME +CREATED +MOUNTPOINT\ndb +\S+ \S+ +`+root+`/volumes/db/_data\nempty `, out)
	out, errOut, status = runProgram(t, "volume", "--root", root, "rm", "db", "empty")
	require.Equal(t, 0, status, errOut)
	assert.Equal(t, "db\nempty\n", out)
	_, errOut, status = runProgram(t, "volume", "--root", root, "rm", "db")
	assert.NotEqual(t, 0, status)
	assert.Contains(t, errOut, "no such volume")
	_, errOut, status = runProgram(t, "volume", "--root", root, "create", "../x")
	assert.NotEqual(t, 0, status)
	assert.Contains(t, errOut, "invalid characters")
}

// TestVolumeInAUserNamespace: with --userns the container's root is
// uid 100000 on the host; the volume is idmapped for it, so what it
// writes is stored as uid 0, and the store's directories let it through.
func TestVolumeInAUserNamespace(t *testing.T) {
	labtest.Privileged(t)
	root, err := os.MkdirTemp("", "berth-04-volume-userns-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(root) })
	require.NoError(t, os.Chmod(root, 0o755))
	app := filepath.Join(root, "app") // t.TempDir is 0700: not for uid 100000
	require.NoError(t, os.MkdirAll(filepath.Join(app, "data"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(app, "data", "conf"), []byte("from-image\n"), 0o644))
	image := labtest.BusyboxRootfs(t) + ":" + app
	out, errOut, status := runProgram(t, "run", "--root", root, "--image", image, "--userns", "-v", "db:/data", "--",
		"/bin/sh", "-c", "cat /data/conf; echo mine > /data/new && id -u")
	require.Equal(t, 0, status, "stderr: %s", errOut)
	assert.Equal(t, "from-image\n0\n", out)
	fi, err := os.Stat(filepath.Join(root, "volumes", "db", "_data", "new"))
	require.NoError(t, err)
	assert.Equal(t, uint32(0), fi.Sys().(*syscall.Stat_t).Uid, "idmapped: stored as the container's root")
}

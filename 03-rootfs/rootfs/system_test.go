package rootfs

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/01-namespaces/labtest"
)

// TestHostDevices: a privileged container gets every device node of a
// /dev, subdirectories included, with its modes and owners; not what
// the container makes itself (pts, shm, mqueue, ptmx, the links), the
// console, or files that are not devices.
func TestHostDevices(t *testing.T) {
	labtest.Privileged(t)
	dev := t.TempDir()
	mknod := func(name string, mode uint32, major, minor uint32) {
		t.Helper()
		p := filepath.Join(dev, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, unix.Mknod(p, mode, int(unix.Mkdev(major, minor))))
		require.NoError(t, os.Chmod(p, os.FileMode(mode&0o777)))
	}
	mknod("null", unix.S_IFCHR|0o666, 1, 3)
	mknod("loop0", unix.S_IFBLK|0o660, 7, 0)
	mknod("net/tun", unix.S_IFCHR|0o666, 10, 200)
	require.NoError(t, os.Chown(filepath.Join(dev, "loop0"), 0, 6))
	mknod("console", unix.S_IFCHR|0o600, 5, 1)
	mknod("ptmx", unix.S_IFCHR|0o666, 5, 2)
	mknod("pts/0", unix.S_IFCHR|0o620, 136, 0)
	mknod("shm/x", unix.S_IFCHR|0o666, 1, 3)
	require.NoError(t, os.Symlink("/proc/self/fd", filepath.Join(dev, "fd")))
	require.NoError(t, os.WriteFile(filepath.Join(dev, "file"), nil, 0o644))

	got, err := hostDevices(dev)
	require.NoError(t, err)
	assert.Equal(t, []device{
		{name: "loop0", major: 7, minor: 0, mode: unix.S_IFBLK | 0o660, gid: 6},
		{name: "net/tun", major: 10, minor: 200, mode: unix.S_IFCHR | 0o666},
		{name: "null", major: 1, minor: 3, mode: unix.S_IFCHR | 0o666},
	}, got)

	_, err = hostDevices(filepath.Join(dev, "missing"))
	assert.ErrorContains(t, err, "missing")
}

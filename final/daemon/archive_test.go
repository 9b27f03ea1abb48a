package daemon

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// docker cp, both ways, files and directories, on a running and on a
// stopped container.
func TestCp_BothWays(t *testing.T) {
	l := newLab(t)
	for _, running := range []bool{true, false} {
		name := "cp-stopped"
		if running {
			name = "cp-running"
			l.ok("run", "-d", "--name", name, "busybox", "sleep", "1000")
		} else {
			l.ok("create", "--name", name, "busybox", "sh", "-c", "cat /in/file /dir/sub/b")
		}
		host := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(host, "file"), []byte("hello\n"), 0o640))
		require.NoError(t, os.MkdirAll(filepath.Join(host, "dir", "sub"), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(host, "dir", "sub", "b"), []byte("bee\n"), 0o600))

		l.ok("cp", filepath.Join(host, "dir"), name+":/")
		l.ok("cp", filepath.Join(host, "file"), name+":/tmp/copied")

		out := t.TempDir()
		l.ok("cp", name+":/tmp/copied", filepath.Join(out, "back"))
		data, err := os.ReadFile(filepath.Join(out, "back"))
		require.NoError(t, err, name)
		assert.Equal(t, "hello\n", string(data), name)
		fi, err := os.Stat(filepath.Join(out, "back"))
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o640), fi.Mode().Perm(), "%s: the mode travels", name)

		l.ok("cp", name+":/dir", filepath.Join(out, "dir"))
		data, err = os.ReadFile(filepath.Join(out, "dir", "sub", "b"))
		require.NoError(t, err, name)
		assert.Equal(t, "bee\n", string(data), name)

		l.ok("cp", name+":/etc/passwd", out)
		_, err = os.Stat(filepath.Join(out, "passwd"))
		assert.NoError(t, err, "%s: the image's files", name)
	}
}

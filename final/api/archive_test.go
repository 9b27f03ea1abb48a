package api_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// docker cp through both docker clients against the fake engine: the
// stat header, the tar both ways, and a missing path's 404 in Docker's
// words.
func TestCp_DockerCLIsCopyThroughTheAPI(t *testing.T) {
	for _, client := range dockerClients {
		t.Run(client.name, func(t *testing.T) {
			d := newDockerCLI(t, client.path)
			d.ok("run", "--name", "box", "busybox", "touch", "/made")

			src := filepath.Join(d.dir, "in.txt")
			require.NoError(t, os.WriteFile(src, []byte("copied in\n"), 0o644))
			d.ok("cp", src, "box:/made-dir-less.txt")
			out := filepath.Join(d.dir, "out.txt")
			d.ok("cp", "box:/made-dir-less.txt", out)
			data, err := os.ReadFile(out)
			require.NoError(t, err)
			assert.Equal(t, "copied in\n", string(data))

			dir := filepath.Join(d.dir, "tree")
			require.NoError(t, os.MkdirAll(filepath.Join(dir, "sub"), 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(dir, "sub", "f"), []byte("deep\n"), 0o644))
			d.ok("cp", dir, "box:/")
			back := filepath.Join(d.dir, "back")
			d.ok("cp", "box:/tree", back)
			data, err = os.ReadFile(filepath.Join(back, "sub", "f"))
			require.NoError(t, err)
			assert.Equal(t, "deep\n", string(data))

			_, errOut, code := d.run("", "cp", "box:/no/such", d.dir)
			assert.NotEqual(t, 0, code)
			// 28 shows the server's message; 20.10 words the 404 itself.
			assert.Regexp(t, `Could not find the file /no/such in container box|No such container:path: box:/no/such`, errOut)
		})
	}
}

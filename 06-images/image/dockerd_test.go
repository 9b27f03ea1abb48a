package image

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/labtest"
)

// S7 and S33: an image committed by berth, saved by berth, is loaded by a
// real dockerd (20.10, the Debian package, which reads manifest.json) and
// runs there, with its parent chain; and what dockerd saves, berth loads
// back with the same IDs.
func TestS7_S33_BerthsSaveLoadsAndRunsInDockerd(t *testing.T) {
	d := labtest.StartDockerd(t)
	s := newStore(t)
	base := importBusybox(t, s, "berth-base")
	app, err := s.Commit(containerUpper(t, map[string]string{"hello.txt": "hello from berth\n"}), CommitOptions{
		Parent: base.ID, Ref: "berth-app:v1", CreatedBy: "sh -c echo hello > /hello.txt", Comment: "made by berth",
		Config: &ContainerConfig{Cmd: []string{"cat", "/hello.txt"}, Env: []string{"PATH=/bin"}},
	})
	require.NoError(t, err)
	archive := filepath.Join(t.TempDir(), "app.tar")
	f, err := os.Create(archive)
	require.NoError(t, err)
	require.NoError(t, s.Save(f, []string{"berth-app:v1"}))
	require.NoError(t, f.Close())

	out, err := d.Run("load", "-i", archive)
	require.NoError(t, err)
	assert.Contains(t, out, "Loaded image: berth-app:v1")
	out, err = d.Run("image", "inspect", "-f", "{{.Id}} {{.Parent}}", "berth-app:v1")
	require.NoError(t, err)
	assert.Equal(t, string(app.ID)+" "+string(base.ID), strings.TrimSpace(out), "dockerd computes the same ID and keeps the parent")
	out, err = d.Run("run", "--rm", "--network=none", "berth-app:v1")
	require.NoError(t, err)
	assert.Equal(t, "hello from berth\n", out, "the image's Cmd, run by dockerd")
	out, err = d.Run("history", "--no-trunc", "--format", "{{.ID}}|{{.CreatedBy}}", "berth-app:v1")
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 2)
	assert.Equal(t, string(app.ID)+"|sh -c echo hello > /hello.txt", lines[0])
	assert.True(t, strings.HasPrefix(lines[1], string(base.ID)+"|"), "dockerd's history names the parent: %s", lines[1])

	// Back: dockerd's own save of the image, into a fresh berth store.
	back := filepath.Join(t.TempDir(), "back.tar")
	_, err = d.Run("save", "-o", back, "berth-app:v1")
	require.NoError(t, err)
	s2 := newStore(t)
	loaded := loadFile(t, s2, back)
	require.Len(t, loaded, 1)
	assert.Equal(t, Loaded{ID: app.ID, Tags: []string{"berth-app:v1"}}, loaded[0])
	assert.Equal(t, "hello from berth\n", flat(t, s2, app.ID)["hello.txt"])
}

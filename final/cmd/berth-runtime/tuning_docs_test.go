//go:build !manpages

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDocsManRefusedWithoutTag: the runtime's build has no man-page
// generator; `docs man` says how to get the pages and writes nothing.
func TestDocsManRefusedWithoutTag(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "man1")
	root.SetArgs([]string{"docs", "man", dir})
	t.Cleanup(func() { root.SetArgs(nil) })
	err := root.Execute()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "-tags manpages")
	assert.NoDirExists(t, dir)
}

// TestRuntimeLinksNoDocGenerator: neither cobra's doc package nor the
// Markdown renderer it brings is linked into the runtime (tuning_docs.go
// tells why); a build with -tags manpages has them.
func TestRuntimeLinksNoDocGenerator(t *testing.T) {
	gen := []string{"github.com/spf13/cobra/doc", "github.com/russross/blackfriday/v2", "github.com/berth-project/berth/final/manpages"}
	deps := func(tags ...string) string {
		out, err := exec.Command("go", append(append([]string{"list", "-deps"}, tags...), ".")...).CombinedOutput()
		require.NoError(t, err, "go list -deps: %s", out)
		return string(out)
	}
	lean := strings.Fields(deps())
	for _, pkg := range gen {
		assert.NotContains(t, lean, pkg)
	}
	assert.Contains(t, strings.Fields(deps("-tags", "manpages")), "github.com/spf13/cobra/doc")
}

// TestManPagesBuild runs the man-page test (cmd_docs_test.go) in the
// build that has the generator, so that a plain `go test ./...` keeps
// checking the pages.
func TestManPagesBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the package again with -tags manpages")
	}
	cmd := exec.Command("go", "test", "-count=1", "-tags", "manpages", "-run", "^TestManPages$", ".")
	cmd.Env = append(os.Environ(), "GOFLAGS=")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go test -tags manpages -run TestManPages: %s", out)
}

package cli

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// berth container prune against the fake engine: the stopped containers
// with the label go, then every stopped one; the running one stays.
func TestContainerPrune(t *testing.T) {
	e := newEngine(t)
	e.ok(t, "run", "-d", "--name", "up", "busybox", "sleep", "30")
	e.ok(t, "create", "--name", "old1", "--label", "tier=old", "busybox", "true")
	e.ok(t, "create", "--name", "new1", "busybox", "true")

	out := e.ok(t, "container", "prune", "-f", "--filter", "label=tier=old")
	assert.True(t, strings.HasPrefix(out, "Deleted Containers:\n"), out)
	assert.True(t, strings.HasSuffix(out, "\nTotal reclaimed space: 0B\n"), out)
	assert.Equal(t, "new1\nup\n", sortedLines(e.ok(t, "ps", "-a", "--format", "{{.Names}}")))
	e.ok(t, "container", "prune", "--force")
	assert.Equal(t, "up\n", e.ok(t, "ps", "-a", "--format", "{{.Names}}"))
	assert.Equal(t, "Total reclaimed space: 0B\n", e.ok(t, "container", "prune", "-f"), "nothing left to prune")
}

func sortedLines(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	slices.Sort(lines)
	return strings.Join(lines, "\n") + "\n"
}

// berth builder prune and berth system prune against a real berthd: a
// failed build's step goes with its image, -a empties the cache,
// --keep-storage is refused by name, and nothing goes unless confirmed.
func TestBerthdBuilderAndSystemPrune(t *testing.T) {
	e := newBerthd(t)
	dir := t.TempDir()
	build := func(dockerfile string) (string, int) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile), 0o644))
		out, errOut, code := e.berth(t, "", "build", "-t", "bp:1", dir)
		return out + errOut, code
	}
	out, code := build("FROM busybox\nRUN echo a > /a\n")
	require.Equal(t, 0, code, out)
	out, code = build("FROM busybox\nRUN echo c > /c\nRUN exit 3\n")
	require.NotEqual(t, 0, code, out)

	out, _, code = e.berth(t, "n\n", "builder", "prune")
	assert.Equal(t, 0, code)
	assert.Equal(t, "WARNING! This will remove all dangling build cache.\nAre you sure you want to continue? [y/N] ", out)
	out = e.ok(t, "builder", "prune", "-f")
	assert.Regexp(t, `^Deleted build cache objects:\n[0-9a-f]{64}\n\nTotal reclaimed space: \d+(\.\d+)?[kM]?B\n$`, out)
	assert.NotContains(t, out, "space: 0B")

	_, errOut, code := e.berth(t, "", "builder", "prune", "-f", "--keep-storage", "1MB")
	assert.NotEqual(t, 0, code)
	assert.Contains(t, errOut, "keep-storage (reserved-space) is not supported")

	out = e.ok(t, "builder", "prune", "-f", "-a")
	assert.Regexp(t, `^Deleted build cache objects:\n([0-9a-f]{64}\n)+\nTotal reclaimed space: 0B\n$`, out)
	out, code = build("FROM busybox\nRUN echo a > /a\n")
	require.Equal(t, 0, code, out)
	assert.NotContains(t, out, "Using cache")

	e.ok(t, "create", "--name", "stopped", "busybox", "true")
	out, _, code = e.berth(t, "n\n", "system", "prune")
	assert.Equal(t, 0, code)
	assert.True(t, strings.HasPrefix(out, "WARNING! This will remove:\n  - all stopped containers\n"), out)
	out = e.ok(t, "system", "prune", "-f")
	assert.True(t, strings.HasPrefix(out, "Deleted Containers:\n"), out)
	assert.Regexp(t, `\nTotal reclaimed space: \S+\n$`, out)
	assert.Empty(t, e.ok(t, "ps", "-aq"))
}

package cli

import (
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
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

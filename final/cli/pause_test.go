package cli

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// berth pause and unpause against the fake engine: the calls, the names
// printed, Docker's refusals, and the state the engine reports.
func TestPauseAndUnpause(t *testing.T) {
	e := newEngine(t)
	e.ok(t, "run", "-d", "--name", "p1", "busybox", "sleep", "30")
	e.ok(t, "run", "-d", "--name", "p2", "busybox", "sleep", "30")

	assert.Equal(t, "p1\np2\n", e.ok(t, "pause", "p1", "p2"))
	assert.Equal(t, "paused", e.state(t, "p1"))
	assert.Equal(t, "true true\n", e.ok(t, "inspect", "--format", "{{.State.Paused}} {{.State.Running}}", "p1"))
	assert.Regexp(t, `^p1 Up .* \(Paused\)\n$`, e.ok(t, "ps", "--filter", "name=p1", "--format", "{{.Names}} {{.Status}}"))
	assert.Contains(t, e.ok(t, "info"), "  Paused: 2\n")

	_, errOut, code := e.berth(t, "", "pause", "p1")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "is already paused")
	_, errOut, code = e.berth(t, "", "exec", "p1", "true")
	assert.NotEqual(t, 0, code)
	assert.Contains(t, errOut, "is paused, unpause the container before exec")

	// One bad name does not stop the others.
	out, errOut, code := e.berth(t, "", "unpause", "nothere", "p1")
	assert.Equal(t, 1, code)
	assert.Equal(t, "p1\n", out)
	assert.Contains(t, errOut, "No such container: nothere")
	assert.Equal(t, "running", e.state(t, "p1"))
	_, errOut, code = e.berth(t, "", "unpause", "p1")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "is not paused")

	// A paused container is killed as a running one.
	assert.Equal(t, "p2\n", e.ok(t, "kill", "p2"))
	assert.Equal(t, "exited", e.state(t, "p2"))
	assert.Equal(t, "false\n", e.ok(t, "inspect", "--format", "{{.State.Paused}}", "p2"))
	_, errOut, code = e.berth(t, "", "pause", "p2")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "is not running")

	_, errOut, code = e.berth(t, "", "pause")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "'berth pause' requires at least 1 argument")
}

package cli

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// berth rename against the fake engine: the new name in ps and inspect,
// the old one free, and docker 28's words for each refusal.
func TestRename(t *testing.T) {
	e := newEngine(t)
	e.ok(t, "run", "-d", "--name", "r1", "busybox", "sleep", "30")
	e.ok(t, "create", "--name", "r2", "busybox", "true")

	assert.Equal(t, "", e.ok(t, "rename", "r1", "front"))
	assert.Equal(t, "/front running\n", e.ok(t, "inspect", "--format", "{{.Name}} {{.State.Status}}", "front"))
	assert.Equal(t, "front\n", e.ok(t, "ps", "--format", "{{.Names}}"))
	assert.Equal(t, "", e.ok(t, "container", "rename", "r2", "back"), "also as docker container rename")

	for _, tc := range []struct {
		args    []string
		errLine string
	}{
		{[]string{"nothere", "x"}, "Error response from daemon: No such container: nothere"},
		{[]string{"front", "back"}, `Error response from daemon: Error when allocating new name: Conflict. The container name "/back" is already in use by container`},
		{[]string{"front", "a/b"}, "Error response from daemon: Error when allocating new name: Invalid container name (/a/b)"},
		{[]string{"front", "front"}, "Error response from daemon: Renaming a container with the same name as its current name"},
	} {
		out, errOut, code := e.berth(t, "", append([]string{"rename"}, tc.args...)...)
		assert.Equal(t, 1, code, tc.args)
		assert.Empty(t, out)
		assert.Contains(t, errOut, tc.errLine, tc.args)
		assert.Contains(t, errOut, "Error: failed to rename container named "+tc.args[0]+"\n", tc.args)
	}
	_, errOut, code := e.berth(t, "", "rename", " ", "x")
	assert.Equal(t, 1, code)
	assert.Equal(t, "Error: Neither old nor new names may be empty\n", errOut)
	_, errOut, code = e.berth(t, "", "rename", "front")
	assert.Equal(t, 1, code)
	require.Contains(t, errOut, "'berth rename' requires 2 arguments")
}

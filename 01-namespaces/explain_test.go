package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/explain"
	"github.com/berth-project/berth/01-namespaces/labtest"
)

// --explain prints the steps on stderr, in order: the host's clone, then
// init's own steps inside, which come back on the trace pipe.
func TestExplainShowsEachStepInOrder(t *testing.T) {
	labtest.Privileged(t)
	out, errOut, status := runProgram(t, "run", "--explain", "--hostname", "box", "--sysctl", "kernel.msgmax=4096", "--", "/bin/hostname")
	require.Equal(t, 0, status, "stderr: %s", errOut)
	assert.Equal(t, "box\n", out, "the trace goes to stderr, the command's output is untouched")
	lines := explain.Lines(errOut)
	assert.Empty(t, explain.FirstMissing(lines,
		"clone:CLONE_NEWPID", "mount:MS_PRIVATE", "unshare:CLONE_NEWCGROUP", "sethostname:box",
		"write:kernel/msgmax", "ioctl:lo", "mount:/proc"), "stderr:\n%s", errOut)
	for _, l := range lines {
		assert.Equal(t, "01", l.Section.Chapter(), "chapter 01 does only chapter 01's steps: %+v", l)
	}
	assert.Len(t, strings.Split(strings.TrimSpace(errOut), "\n"), len(lines), "every line of stderr is a step")
}

func TestWithoutExplainNothingIsPrinted(t *testing.T) {
	labtest.Privileged(t)
	_, errOut, status := runProgram(t, "run", "--", "/bin/true")
	require.Equal(t, 0, status, "stderr: %s", errOut)
	assert.Empty(t, errOut)
}

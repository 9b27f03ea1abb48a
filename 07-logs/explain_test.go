package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/explain"
)

// The start happens in the shim, away from the command's stderr: the
// shim keeps the trace in the container's directory, and run prints it
// once the shim has reported. It is whole by then, init's part included,
// and the container's own output is not in it.
func TestExplainShowsTheShimAndTheWholeStart(t *testing.T) {
	for _, tt := range []struct {
		name     string
		flags    []string
		detached bool
	}{
		{"attached", nil, false},
		{"detached", []string{"-d"}, true},
		{"with init as PID 1", []string{"--init"}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l := newLab(t)
			args := append(append([]string{"run", "--explain", "--net", "none", "--image", l.image}, tt.flags...), "--", "/bin/echo", "hi")
			out, errOut, status := l.run("", args...)
			require.Equal(t, 0, status, "stderr: %s", errOut)
			lines := explain.Lines(errOut)
			assert.Empty(t, explain.FirstMissing(lines,
				"shim", "log:container.log", "clone", "mount:overlay on", "pivot_root", "seccomp", "capset"), "stderr:\n%s", errOut)
			assert.NotContains(t, errOut, "hi\n", "the container's output goes to its log, not into the trace")
			if !tt.detached {
				assert.Equal(t, "hi\n", out)
			} else {
				assert.Regexp(t, `^[0-9a-f]{64}\n$`, out)
			}
			assert.Len(t, strings.Split(strings.TrimSpace(errOut), "\n"), len(lines), "stderr holds only the trace")
		})
	}
}

func TestWithoutExplainTheShimKeepsNoTrace(t *testing.T) {
	l := newLab(t)
	id := l.detach("--", "/bin/true")
	got, err := l.container(id).Explained()
	require.NoError(t, err)
	assert.Empty(t, got)
}

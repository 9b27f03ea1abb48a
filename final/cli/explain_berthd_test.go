package cli

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/explain"
)

// berth run --explain prints the trace of the start that berthd's shim
// made, attached or detached; without it, nothing.
func TestBerthdRunExplain(t *testing.T) {
	e := newBerthd(t)
	for _, tt := range []struct {
		name string
		args []string
	}{
		{"attached", []string{"run", "--explain", "busybox", "true"}},
		{"detached", []string{"run", "-d", "--explain", "busybox", "true"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, errOut, code := e.berth(t, "", tt.args...)
			require.Equal(t, 0, code, "stderr: %s", errOut)
			lines := explain.Lines(errOut)
			assert.Empty(t, explain.FirstMissing(lines,
				"shim", "write:cgroup.procs", "mount:overlay on", "pivot_root", "seccomp", "capset"), "stderr:\n%s", errOut)
			assert.Empty(t, explain.FirstMissing(lines, "clone", "netlink:RTM_NEWLINK veth", "nft"), "stderr:\n%s", errOut)
			assert.Len(t, strings.Split(strings.TrimSpace(errOut), "\n"), len(lines), "stderr holds only the trace")
		})
	}
	_, errOut, code := e.berth(t, "", "run", "busybox", "true")
	require.Equal(t, 0, code, "stderr: %s", errOut)
	assert.Empty(t, errOut)
}

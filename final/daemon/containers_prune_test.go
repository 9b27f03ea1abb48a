package daemon

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSameAsDockerd_ContainerPrune: docker container prune removes the
// containers that are not running, those with the labels asked for,
// created before until; a running one stays, and so do volumes. The
// same steps against dockerd print the same names and counts.
func TestSameAsDockerd_ContainerPrune(t *testing.T) {
	engines := compareEngines(t)
	results := map[string][]string{}
	for _, e := range engines {
		must := e.mustFor(t)
		names := func() string {
			out := strings.Fields(must("ps", "-a", "--format", "{{.Names}}"))
			sort.Strings(out)
			return strings.Join(out, " ")
		}
		deleted := func(out string) int { // the IDs under "Deleted Containers:"
			n := 0
			for _, line := range strings.Split(out, "\n") {
				if len(line) == 64 {
					n++
				}
			}
			return n
		}
		var got []string
		must("run", "--name", "pr-exited", "--network", "none", "busybox", "true")
		must("run", "--name", "pr-labelled", "--label", "keep=no", "--network", "none", "busybox", "true")
		must("create", "--name", "pr-created", "--network", "none", "-v", "/data", "busybox", "true")
		must("run", "-d", "--name", "pr-running", "--network", "none", "busybox", "sleep", "1000")
		got = append(got, names())

		out := must("container", "prune", "-f", "--filter", "label=keep=no")
		got = append(got, strings.Join([]string{names(), strings.Repeat("x", deleted(out))}, " | "))
		out = must("container", "prune", "-f", "--filter", "until=24h")
		got = append(got, strings.Join([]string{names(), strings.Repeat("x", deleted(out))}, " | "), "nothing older than a day")
		out = must("container", "prune", "-f")
		got = append(got, strings.Join([]string{names(), strings.Repeat("x", deleted(out))}, " | "))
		// The created container's anonymous volume stays.
		vols := strings.TrimSpace(must("volume", "ls", "-q", "--filter", "dangling=true"))
		got = append(got, fmt.Sprint("anonymous volume kept: ", vols != ""))
		_, err := e.run("container", "prune", "-f", "--filter", "bogus=1")
		require.Error(t, err, e.name)
		// berth's message adds the filters it knows.
		got = append(got, fmt.Sprint("refused: ", strings.Contains(strings.ToLower(err.Error()), "invalid filter 'bogus'")))
		must("rm", "-f", "pr-running")
		must("volume", "rm", vols)
		results[e.name] = got
	}
	assert.Equal(t, results["dockerd"], results["berthd"])
	assert.Equal(t, "pr-created pr-exited pr-labelled pr-running", results["berthd"][0])
	assert.Equal(t, "pr-running | xx", results["berthd"][4])
}

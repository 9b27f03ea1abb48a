package daemon

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestSameAsDockerd_SystemDf runs docker system df (and -v) against
// berthd and a private dockerd with the same images, containers and
// volumes, and compares the tables: counts, active ones, sizes and what
// is reclaimable.
func TestSameAsDockerd_SystemDf(t *testing.T) {
	results := map[string][]string{}
	for _, e := range compareEngines(t) {
		must := e.mustFor(t)
		var got []string
		got = append(got, must("system", "df"))
		must("run", "--name", "df-a", "-v", "df-vol:/data", "busybox", "sh", "-c", "echo hello > /data/f; echo abc > /f")
		must("commit", "df-a", "df-img")
		must("create", "--name", "df-b", "df-img", "true")
		must("volume", "create", "df-idle")
		got = append(got, must("system", "df"))
		got = append(got, must("system", "df", "--format", "{{.Type}} {{.TotalCount}} {{.Active}} {{.Size}} {{.Reclaimable}}"))
		// Sorted: both list images newest first, by creation time in
		// seconds, and the commit comes within the second of busybox's
		// import here, so a tie's order is either engine's whim.
		got = append(got, sortedLines(must("system", "df", "-v", "--format", "{{range .Images}}{{.Repository}} {{.Size}} {{.SharedSize}} {{.UniqueSize}} {{.Containers}}\n{{end}}")))
		// Sorted: dockerd lists its volumes in its store's order.
		got = append(got, sortedLines(must("system", "df", "-v", "--format", "{{range .Volumes}}{{.Name}} {{.Links}} {{.Size}}\n{{end}}")))
		must("rm", "df-a", "df-b")
		must("rmi", "df-img")
		must("volume", "rm", "df-vol", "df-idle")
		results[e.name] = got
	}
	assert.Equal(t, results["dockerd"], results["berthd"])
}

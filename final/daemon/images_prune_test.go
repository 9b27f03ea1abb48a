package daemon

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// imageIDs masks image IDs, which differ between the engines.
var imageIDs = regexp.MustCompile(`sha256:[0-9a-f]{64}`)

// layerLines are dockerd's "deleted:" lines of the layers an image
// deletion releases, after the image's own: berth's rmi reports the
// image only (its layers go with it), so they are left out.
var layerLines = regexp.MustCompile(`(deleted: sha256:ID\n)(deleted: sha256:ID\n)+`)

// pruned is prune's output with IDs masked and dockerd's layer lines
// left out, its lines sorted: dockerd goes through the images in a map's
// order.
func pruned(out string) string {
	return sortedLines(layerLines.ReplaceAllString(imageIDs.ReplaceAllString(out, "sha256:ID"), "$1"))
}

// sortedLines sorts the lines of s.
func sortedLines(s string) string {
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// TestSameAsDockerd_ImagePrune runs docker image prune against berthd and
// a private dockerd and compares what the CLI prints and the images
// left: the dangling image (a tag that moved on) goes, the intermediate
// and the used ones stay; -a with a label filter; then -a, which keeps
// only what a container was made from (the tagged parent of a child
// image loses its tag only).
func TestSameAsDockerd_ImagePrune(t *testing.T) {
	results := map[string][]string{}
	for _, e := range compareEngines(t) {
		must := e.mustFor(t)
		var got []string
		must("run", "--name", "pr-a", "busybox", "sh", "-c", "echo one > /f")
		must("commit", "pr-a", "pr-img")
		must("run", "--name", "pr-b", "busybox", "sh", "-c", "echo two > /f")
		must("commit", "pr-b", "pr-img") // the first pr-img dangles now
		must("run", "--name", "pr-c", "busybox", "sh", "-c", "echo three > /f")
		must("commit", "pr-c", "pr-keep:1")
		must("run", "--name", "pr-d", "busybox", "sh", "-c", "echo four > /f")
		must("commit", "--change", "LABEL x=1", "pr-d", "pr-lab")
		must("rm", "pr-a", "pr-b", "pr-c", "pr-d")
		must("create", "--name", "pr-user", "pr-keep:1", "true")

		images := func() string {
			// Sorted: images committed in the same second have no order.
			return sortedLines(must("image", "ls", "--format", "{{.Repository}}:{{.Tag}}"))
		}
		got = append(got, pruned(must("image", "prune", "-f")))
		got = append(got, images())
		got = append(got, pruned(must("image", "prune", "-f")), "nothing left to prune")
		got = append(got, pruned(must("image", "prune", "-a", "-f", "--filter", "label=x=1")))
		got = append(got, images())
		got = append(got, pruned(must("image", "prune", "-a", "-f")))
		got = append(got, images())
		_, err := e.run("image", "prune", "-f", "--filter", "nosuch=1")
		got = append(got, refusal(err))
		must("rm", "pr-user")
		must("rmi", "pr-keep:1")
		results[e.name] = got
	}
	assert.Equal(t, results["dockerd"], results["berthd"])
}

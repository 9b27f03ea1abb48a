package image

import (
	"fmt"

	"github.com/berth-project/berth/01-namespaces/explain"
)

// explainLayers tells the trace (--explain) which image a container
// runs and the layer directories of the store that chapter 04's overlay
// stacks for it, bottom first.
func explainLayers(t *explain.Trace, ref string, id Digest, dirs []string) {
	if !t.On() {
		return
	}
	t.Stepf(explain.Images, "image", "(%s = %s): %d layer(s), bottom first", ref, id, len(dirs))
	for i, d := range dirs {
		t.Step(explain.Images, "layer", fmt.Sprintf("(%d/%d %s): read-only, shared with every container of the image", i+1, len(dirs), d))
	}
}

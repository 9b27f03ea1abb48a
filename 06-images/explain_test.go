package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/explain"
)

// Chapter 06 resolves the image to its layers before anything else, and
// chapter 04's overlay then stacks exactly those.
func TestExplainShowsTheImageLayers(t *testing.T) {
	l := newLab(t)
	id := l.importBusybox("explained")
	_, errOut, status := l.run(nil, "run", "--explain", "--net", "none", "explained", "/bin/true")
	require.Equal(t, 0, status, "stderr: %s", errOut)
	lines := explain.Lines(errOut)
	assert.Empty(t, explain.FirstMissing(lines,
		"image:explained", "layer:1/1", "clone", "mount:overlay on", "pivot_root"), "stderr:\n%s", errOut)
	assert.Empty(t, explain.FirstMissing(lines, "image:"+id[:12]), "the image's ID: %s", errOut)
}

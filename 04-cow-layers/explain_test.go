package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/explain"
	"github.com/berth-project/berth/01-namespaces/labtest"
)

// Chapter 04's steps come first inside init: the overlay, then the copy
// of the image into a new volume, then chapter 03's root, with the
// volume bound in.
func TestExplainShowsTheLayersAndTheVolume(t *testing.T) {
	image := labtest.BusyboxRootfs(t)
	root := t.TempDir()
	_, errOut, status := runProgram(t, "run", "--explain", "--root", root, "--image", image, "-v", "/var", "--", "/bin/true")
	require.Equal(t, 0, status, "stderr: %s", errOut)
	lines := explain.Lines(errOut)
	assert.Empty(t, explain.FirstMissing(lines,
		"clone", "mount:overlay on", "copy_up:/var", "mount:pivot_root needs", "mount:on /var", "pivot_root"), "stderr:\n%s", errOut)
	for _, l := range lines {
		if l.Section == explain.Layers {
			assert.Contains(t, l.Detail, ", 1 lowerdirs, ", "the image is one directory")
		}
	}
}

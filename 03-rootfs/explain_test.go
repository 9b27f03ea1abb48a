package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/explain"
	"github.com/berth-project/berth/01-namespaces/labtest"
)

// Chapter 03's steps all happen inside, in init, after chapter 01's:
// the root made a mount point, the system filesystems, the volumes, the
// pivot, the masks, and last the seccomp filter and the capabilities.
func TestExplainShowsTheRootBeingBuilt(t *testing.T) {
	rootfs := labtest.BusyboxRootfs(t)
	vol := t.TempDir()
	_, errOut, status := runProgram(t, "run", "--explain", "--rootfs", rootfs, "-v", vol+":/data:ro", "--", "/bin/true")
	require.Equal(t, 0, status, "stderr: %s", errOut)
	lines := explain.Lines(errOut)
	assert.Empty(t, explain.FirstMissing(lines,
		"clone", "mount:MS_PRIVATE", "mount:pivot_root needs", "mount:type proc", "mount:type sysfs",
		"mount:on /dev type tmpfs", "mount:type devpts", "mount:on /data", "mount:MS_REMOUNT",
		"pivot_root", "umount2", "mount:masked", "mount:/proc/sys", "seccomp", "capset"), "stderr:\n%s", errOut)
	sections := map[explain.Section]bool{}
	for _, l := range lines {
		sections[l.Section] = true
	}
	for _, s := range []explain.Section{explain.Rootfs, explain.System, explain.Masked, explain.Volumes, explain.Seccomp, explain.Caps} {
		assert.True(t, sections[s], "a step of %s", s)
	}
}

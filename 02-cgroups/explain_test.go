package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/explain"
	"github.com/berth-project/berth/01-namespaces/labtest"
)

// Chapter 02's steps come before chapter 01's: the cgroup is made and
// limited before clone, and init joins it before it reads its spec.
func TestExplainShowsTheCgroupBeforeTheNamespaces(t *testing.T) {
	labtest.Privileged(t)
	_, errOut, status := runProgram(t, "run", "--explain", "--memory", "64m", "--pids-limit", "50", "--ulimit", "nofile=1000:2000", "--", "/bin/true")
	require.Equal(t, 0, status, "stderr: %s", errOut)
	lines := explain.Lines(errOut)
	assert.Empty(t, explain.FirstMissing(lines,
		"mkdir", "write:pids.max", "clone", "write:cgroup.procs", "mount:MS_PRIVATE", "setrlimit", "mount:/proc"), "stderr:\n%s", errOut)
	var memory, devices bool
	for _, l := range lines {
		memory = memory || l.Section == explain.Limits && (contains(l.Detail, "memory.max") || contains(l.Detail, "memory.limit_in_bytes"))
		devices = devices || l.Section == explain.Devices
	}
	assert.True(t, memory, "the memory limit is written: %s", errOut)
	assert.True(t, devices, "the device policy is set (rules on v1, a program on v2): %s", errOut)
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

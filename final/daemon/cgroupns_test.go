package daemon

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestSameAsDockerd_CgroupNamespace: what a container sees of its
// cgroups, under berthd and under a private dockerd 20.10 with a private
// cgroup namespace (Docker's default on cgroup v2; --cgroupns private on
// v1): its own cgroup as "/" in every hierarchy, for the container's
// command and for an exec, and the same read-only mounts at
// /sys/fs/cgroup.
func TestSameAsDockerd_CgroupNamespace(t *testing.T) {
	engines := compareEngines(t)
	const look = "mount | grep cgroup; ls /sys/fs/cgroup; cat /proc/self/cgroup; mkdir /sys/fs/cgroup/memory/x 2>&1"
	results := map[string][]string{}
	for _, e := range engines {
		must := e.mustFor(t)
		var got []string
		out, _ := e.run("run", "--rm", "--cgroupns", "private", "busybox", "sh", "-c", look)
		got = append(got, out)
		id := strings.TrimSpace(must("run", "-d", "--cgroupns", "private", "--init", "busybox", "sleep", "1000"))
		out, _ = e.run("exec", id, "sh", "-c", look)
		got = append(got, out)
		must("rm", "-f", id)
		results[e.name] = got
	}
	for i := range results["dockerd"] {
		assert.Equal(t, results["dockerd"][i], results["berthd"][i], "step %d", i)
	}
	t.Logf("berthd:\n%s", strings.Join(results["berthd"], "\n---\n"))
}

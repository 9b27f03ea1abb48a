package daemon

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/labtest"
)

// TestSameAsDockerd_CgroupNamespace: what a container sees of its
// cgroups, under berthd and under a private dockerd 20.10 with a private
// cgroup namespace (Docker's default on cgroup v2; --cgroupns private on
// v1): its own cgroup as "/" in every hierarchy, for the container's
// command and for an exec, and the same read-only mounts at
// /sys/fs/cgroup.
func TestSameAsDockerd_CgroupNamespace(t *testing.T) {
	l := newLab(t)
	d := labtest.StartDockerd(t)
	_, err := d.Run("import", labtest.BusyboxRootfs(t)+".tar", "busybox")
	require.NoError(t, err)
	engines := []struct {
		name string
		run  func(args ...string) (string, error)
	}{
		{"berthd", func(args ...string) (string, error) {
			out, errOut, code := l.docker("", args...)
			if code != 0 {
				return out, errors.New(errOut)
			}
			return out, nil
		}},
		{"dockerd", d.Run},
	}
	const look = "mount | grep cgroup; ls /sys/fs/cgroup; cat /proc/self/cgroup; mkdir /sys/fs/cgroup/memory/x 2>&1"
	results := map[string][]string{}
	for _, e := range engines {
		must := func(args ...string) string {
			t.Helper()
			out, err := e.run(args...)
			require.NoError(t, err, "%s: docker %s", e.name, strings.Join(args, " "))
			return out
		}
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

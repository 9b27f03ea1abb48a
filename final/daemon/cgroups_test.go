package daemon

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/labtest"
	"github.com/berth-project/berth/02-cgroups/cgroup"
)

func TestDefaultCgroupParent(t *testing.T) {
	for _, tc := range []struct {
		root, want string
	}{
		{DefaultDataRoot, "berth"},
		{DefaultDataRoot + "/", "berth"},
		{"/srv/berth", "berth-" + DefaultCgroupParent("/srv/berth")[len("berth-"):]},
	} {
		assert.Equal(t, tc.want, DefaultCgroupParent(tc.root), tc.root)
	}
	other := DefaultCgroupParent("/srv/berth")
	assert.Regexp(t, `^berth-[0-9a-f]{12}$`, other)
	assert.Equal(t, other, DefaultCgroupParent("/srv/berth"), "the same for the same data root, every time")
	assert.NotEqual(t, other, DefaultCgroupParent("/srv/berth2"))
	_, err := cgroup.CleanParent(other)
	assert.NoError(t, err, "a valid parent")
}

// hostCgroupPath is the cgroup of process pid in the hierarchy of
// controller, as the host sees it (/proc/PID/cgroup).
func hostCgroupPath(t *testing.T, pid int, controller string) string {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	require.NoError(t, err)
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) == 3 && (parts[1] == controller || strings.Contains(","+parts[1]+",", ","+controller+",")) {
			return parts[2]
		}
	}
	t.Fatalf("no %s hierarchy in /proc/%d/cgroup:\n%s", controller, pid, data)
	return ""
}

// Two daemons on one host, over two data roots, put their containers
// under two parents; each test removes its own at its end
// (ownCgroupParent), which the lab's cleanup checks.
func TestCgroupParent_TwoDaemonsKeepTheirContainersApart(t *testing.T) {
	labs := []*lab{newLab(t), newLab(t)}
	var parents []string
	for _, l := range labs {
		id := strings.TrimSpace(l.ok("run", "-d", "busybox", "sleep", "1000"))
		parent := DefaultCgroupParent(l.opts.DataRoot)
		assert.Equal(t, parent, l.d.CgroupParent())
		assert.Equal(t, "/"+parent+"/"+id, hostCgroupPath(t, l.state(id).Pid, "memory"))
		cg, err := loadCgroup(l.opts.DataRoot, id)
		require.NoError(t, err)
		assert.Equal(t, filepath.Join(parent, id), relativeToMount(t, cg.Path("pids")))
		parents = append(parents, parent)
	}
	assert.NotEqual(t, parents[0], parents[1])
	assert.NotContains(t, parents, cgroup.DefaultParent, "only the default data root uses the shared parent")
}

// relativeToMount strips /sys/fs/cgroup/<hierarchy>/ from a cgroup
// directory.
func relativeToMount(t *testing.T, dir string) string {
	t.Helper()
	rel, err := filepath.Rel(cgroup.MountRoot, dir)
	require.NoError(t, err)
	if _, rest, ok := strings.Cut(rel, "/"); ok {
		return rest
	}
	return rel
}

// docker run --cgroup-parent: the container's cgroup goes there, so a
// limit on the parent holds inside the container; a parent that climbs
// is refused.
func TestCgroupParent_PerContainer(t *testing.T) {
	l := newLab(t)
	h, err := cgroup.System()
	require.NoError(t, err)
	parent := labtest.Unique("berth-cgp")
	t.Cleanup(func() { assert.NoError(t, h.Under(parent).RemoveParent()) })
	pids := h.Mounts["pids"]
	require.NotEmpty(t, pids, "a pids hierarchy")
	// The parent exists beforehand, with room for 24 tasks in all:
	// enough for the container's init (a Go program, a thread per CPU
	// and a few more) before it becomes the shell, not for the shell's
	// 40 children.
	require.NoError(t, os.Mkdir(filepath.Join(pids, parent), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(pids, parent, "pids.max"), []byte("24"), 0o644))

	forks := "i=0; while [ $i -lt 40 ]; do sleep 30 & i=$((i+1)); done; echo forked"
	out, errOut, code := l.docker("", "run", "--rm", "--cgroup-parent", "/"+parent, "busybox", "sh", "-c", forks)
	assert.NotEqual(t, 0, code, "sh gives up when it cannot fork")
	assert.Empty(t, out)
	assert.Contains(t, errOut, "can't fork", "the parent's pids.max holds inside the container")
	assert.Equal(t, "forked\n", l.ok("run", "--rm", "busybox", "sh", "-c", forks), "without the parent no such limit")

	id := strings.TrimSpace(l.ok("run", "-d", "--cgroup-parent", parent, "busybox", "sleep", "1000"))
	assert.Equal(t, "/"+parent+"/"+id, hostCgroupPath(t, l.state(id).Pid, "memory"))
	assert.Equal(t, parent, l.inspect(id).HostConfig.CgroupParent)
	cg, err := h.Under(parent).Load(id)
	require.NoError(t, err)
	// An exec's process joins the container's cgroup under its parent.
	l.ok("exec", "-d", id, "sleep", "300")
	eventually(t, func() bool { p, _ := cg.Procs(); return len(p) == 2 }, "the exec joined the container's cgroup")
	l.ok("rm", "-f", id)
	_, err = h.Under(parent).Load(id)
	assert.ErrorIs(t, err, os.ErrNotExist, "the cgroup went with the container")

	for _, bad := range []string{"../escape", "a/../../b", "/"} {
		_, errOut, code := l.docker("", "run", "--rm", "--cgroup-parent", bad, "busybox", "true")
		assert.Equal(t, 125, code, bad)
		assert.Contains(t, errOut, "--cgroup-parent", bad)
	}
}

// A container keeps the parent it was created with: a daemon restarted
// with another --cgroup-parent still execs into it, and its shim still
// removes its cgroup, where it is.
func TestCgroupParent_RecordedAcrossRestart(t *testing.T) {
	l := newLab(t)
	first := l.d.CgroupParent()
	id := strings.TrimSpace(l.ok("run", "-d", "busybox", "sleep", "1000"))

	second := labtest.Unique("berth-cgp")
	h, err := cgroup.System()
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, h.Under(second).RemoveParent()) })
	l.opts.CgroupParent = second
	l.restart()
	assert.Equal(t, second, l.d.CgroupParent())

	cg, err := h.Under(first).Load(id)
	require.NoError(t, err)
	l.ok("exec", "-d", id, "sleep", "300")
	eventually(t, func() bool { p, _ := cg.Procs(); return len(p) == 2 }, "the exec joined the container's cgroup under %s", first)

	newID := strings.TrimSpace(l.ok("run", "-d", "busybox", "sleep", "1000"))
	assert.Equal(t, "/"+second+"/"+newID, hostCgroupPath(t, l.state(newID).Pid, "memory"))

	// The clean-up follows the exit, which stop waits for.
	l.ok("stop", "-t", "0", id, newID)
	gone := func(parent, id string) func() bool {
		return func() bool { _, err := h.Under(parent).Load(id); return errors.Is(err, os.ErrNotExist) }
	}
	eventually(t, gone(first, id), "cleaned up under the parent it was made in")
	eventually(t, gone(second, newID), "cleaned up under the daemon's new parent")
}

package ociruntime

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/labtest"
	"github.com/berth-project/berth/02-cgroups/cgroup"
)

// A relative linux.cgroupsPath starts from the runtime's own cgroup in
// each hierarchy, as runc reads it: rebase moves each mount point down
// to the cgroup /proc/self/cgroup names there.
func TestRebase(t *testing.T) {
	hybrid := &cgroup.Hierarchy{Version: cgroup.Hybrid, Unified: "/sys/fs/cgroup/unified", Mounts: map[string]string{
		"memory": "/sys/fs/cgroup/memory", "cpu": "/sys/fs/cgroup/cpu,cpuacct", "cpuacct": "/sys/fs/cgroup/cpu,cpuacct",
	}}
	v2 := &cgroup.Hierarchy{Version: cgroup.V2, Unified: "/sys/fs/cgroup"}
	for _, tc := range []struct {
		name       string
		h          *cgroup.Hierarchy
		proc       string
		unified    string
		mounts     map[string]string
		wantErrSub string
	}{
		{
			name:    "hybrid, a different cgroup per hierarchy",
			h:       hybrid,
			proc:    "9:name=systemd:/\n4:memory:/process_api/abc/shim\n2:cpu,cpuacct:/shim\n0::/shim\n",
			unified: "/sys/fs/cgroup/unified/shim",
			mounts: map[string]string{"memory": "/sys/fs/cgroup/memory/process_api/abc/shim",
				"cpu": "/sys/fs/cgroup/cpu,cpuacct/shim", "cpuacct": "/sys/fs/cgroup/cpu,cpuacct/shim"},
		},
		{
			name:    "hybrid, at the roots",
			h:       hybrid,
			proc:    "4:memory:/\n2:cpu,cpuacct:/\n0::/\n",
			unified: "/sys/fs/cgroup/unified",
			mounts:  map[string]string{"memory": "/sys/fs/cgroup/memory", "cpu": "/sys/fs/cgroup/cpu,cpuacct", "cpuacct": "/sys/fs/cgroup/cpu,cpuacct"},
		},
		{
			// runc: the parent of its own, which holds processes.
			name:    "cgroup2 only: the parent of our own cgroup",
			h:       v2,
			proc:    "0::/system.slice/containerd.service\n",
			unified: "/sys/fs/cgroup/system.slice",
		},
		{name: "a controller missing", h: hybrid, proc: "2:cpu,cpuacct:/\n0::/\n", wantErrSub: "memory controller"},
		{name: "malformed", h: v2, proc: "garbage\n", wantErrSub: "malformed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := rebase(tc.h, tc.proc)
			if tc.wantErrSub != "" {
				require.ErrorContains(t, err, tc.wantErrSub)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.unified, r.Unified)
			if tc.mounts != nil {
				assert.Equal(t, tc.mounts, r.Mounts)
			}
			assert.NotEqual(t, tc.h.Unified, "", "the original is left alone")
		})
	}
}

// A relative linux.cgroupsPath, containerd's CRI's form, makes the
// container's cgroup under this process's own cgroup in every hierarchy
// (not at the roots, where a cpu.shares of 2 starves init on a busy
// machine); the commands that reopen it from the record (update, pause)
// find it there, and delete removes it. The test first moves itself one
// level down, so that its own cgroup is nowhere a hierarchy's root.
func TestRelativeCgroupsPathUnderOwnCgroup(t *testing.T) {
	labtest.Privileged(t)
	moveDown(t)
	for _, tc := range []struct {
		name, rel, parent string
	}{
		{"CRI's systemd-style name", "test.slice:cri-containerd:" + labtest.Unique("x"), ""},
		{"two elements", labtest.Unique("berth-rel") + "/c", "yes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			id := labtest.Unique("relcg")
			spec := baseSpec(labtest.BusyboxRootfs(t), "sleep", "1000")
			spec.Linux.CgroupsPath = tc.rel
			spec.Linux.Resources = &specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: ptr(uint64(2))}}
			c := e.create(spec, id, nil, CreateOptions{})
			h, err := cgroup.System()
			require.NoError(t, err)
			own, err := os.ReadFile("/proc/self/cgroup")
			require.NoError(t, err)
			want, err := rebase(h, string(own))
			require.NoError(t, err)
			if tc.parent != "" {
				t.Cleanup(func() {
					_ = want.Under(filepath.Dir(tc.rel)).RemoveParent()
					_ = h.Under(filepath.Dir(tc.rel)).RemoveParent() // had it gone to the roots
				})
			}
			r, err := Load(e.root, id)
			require.NoError(t, err)
			require.NotEmpty(t, r.CgroupPaths)
			bases := []string{want.Unified}
			for _, m := range want.Mounts {
				bases = append(bases, m)
			}
			for _, dir := range r.CgroupPaths {
				under := false
				for _, b := range bases {
					under = under || (b != "" && dir == filepath.Join(b, tc.rel))
				}
				assert.True(t, under, "%s is not %s under this process's own cgroup (%s)", dir, tc.rel, strings.Join(bases, ", "))
			}
			for _, dir := range r.CgroupPaths {
				assert.NotEqual(t, "/sys/fs/cgroup", filepath.Dir(filepath.Dir(dir)), "%s: at a hierarchy's root", dir)
			}
			cg, err := recordCgroup(r)
			require.NoError(t, err, "update, pause, ps and events reopen the cgroup from the record")
			assert.Equal(t, "2", readTrim(t, filepath.Join(cg.Path("cpu"), "cpu.shares")))

			require.NoError(t, Kill(e.root, id, 9, false))
			_, _ = c.Init.Wait()
			require.NoError(t, Delete(e.root, id, false))
			for _, dir := range r.CgroupPaths {
				assert.NoDirExists(t, dir)
			}
		})
	}
}

// moveDown moves this process into a new cgroup under its own in every
// hierarchy (so that accounting stays where it was), and back at the
// end of the test.
func moveDown(t *testing.T) {
	t.Helper()
	h, err := cgroup.System()
	require.NoError(t, err)
	self, err := os.ReadFile("/proc/self/cgroup")
	require.NoError(t, err)
	own, err := rebase(h, string(self))
	require.NoError(t, err)
	if h.Version == cgroup.V2 {
		t.Skip("cgroup2 only: a process cannot sit in a cgroup whose children have controllers")
	}
	back, err := ownDirs(h, string(self))
	require.NoError(t, err)
	own.AtRoot = true
	cg, err := own.New(labtest.Unique("berth-own"), cgroup.Resources{})
	require.NoError(t, err)
	t.Cleanup(func() {
		for _, dir := range back {
			assert.NoError(t, os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(os.Getpid())), 0))
		}
		assert.NoError(t, cg.Destroy())
	})
	require.NoError(t, cg.Add(os.Getpid()))
}

// ownDirs is the directories procCgroup names, one per hierarchy.
func ownDirs(h *cgroup.Hierarchy, procCgroup string) ([]string, error) {
	r, err := rebase(h, procCgroup)
	if err != nil {
		return nil, err
	}
	dirs := []string{}
	if r.Unified != "" {
		dirs = append(dirs, r.Unified)
	}
	for _, m := range r.Mounts {
		if !slices.Contains(dirs, m) {
			dirs = append(dirs, m)
		}
	}
	return dirs, nil
}

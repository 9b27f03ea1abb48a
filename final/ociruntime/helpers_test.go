package ociruntime

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/01-namespaces/labtest"
	"github.com/berth-project/berth/02-cgroups/cgroup"
)

// The test binary is the containers' init: create re-executes it.
func TestMain(m *testing.M) { labtest.Main(m, ContainerInit) }

// baseSpec is what `runc spec` writes, for a root filesystem at rootfs,
// running args: the namespaces every caller asks for, runc's default
// mounts, capabilities and masked paths.
func baseSpec(rootfs string, args ...string) *specs.Spec {
	caps := []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}
	return &specs.Spec{
		Version: specs.Version,
		Process: &specs.Process{
			Args:            args,
			Env:             []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"},
			Cwd:             "/",
			Capabilities:    &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps},
			Rlimits:         []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024}},
			NoNewPrivileges: true,
		},
		Root:     &specs.Root{Path: rootfs},
		Hostname: "berth",
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}},
			{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
			{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
		},
		Linux: &specs.Linux{
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace}, {Type: specs.NetworkNamespace}, {Type: specs.IPCNamespace},
				{Type: specs.UTSNamespace}, {Type: specs.MountNamespace},
			},
			MaskedPaths:   []string{"/proc/kcore", "/proc/keys", "/proc/timer_list", "/sys/firmware"},
			ReadonlyPaths: []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"},
		},
	}
}

// testEnv is one test's runtime root and cgroup parent, both removed at
// the end of the test, with a check that no mount leaked onto the host.
type testEnv struct {
	t      *testing.T
	root   string // --root
	parent string // the cgroup parent of the test's containers
}

func newEnv(t *testing.T) *testEnv {
	t.Helper()
	labtest.Privileged(t)
	e := &testEnv{t: t, root: t.TempDir(), parent: labtest.Unique("berth-rt-test")}
	// The host's mount table changes with other tests' containers and
	// daemons: only the mounts under this test's directories, or on the
	// shared busybox rootfs, are this test's to answer for.
	mine := []string{filepath.Dir(e.root), labtest.BusyboxRootfs(t)}
	mounts := func() []string {
		var out []string
		for _, m := range labtest.Mounts(t) {
			for _, p := range mine {
				if strings.HasPrefix(m, p) {
					out = append(out, m)
				}
			}
		}
		return out
	}
	before := mounts()
	t.Cleanup(func() {
		// Whatever a failed test left: every container, then the
		// parent cgroup, which must be empty by then.
		states, _ := List(e.root)
		for _, s := range states {
			_ = Delete(e.root, s.ID, true)
		}
		if h, err := cgroup.System(); err == nil {
			_ = h.Under(e.parent).RemoveParent()
		}
		require.Equal(t, before, mounts(), "mounts left on the host")
	})
	return e
}

// bundle writes spec as a bundle's config.json, with the container's
// cgroup under the test's parent unless spec names one, and returns the
// bundle's directory.
func (e *testEnv) bundle(spec *specs.Spec, id string) string {
	e.t.Helper()
	dir := e.t.TempDir()
	if spec.Root != nil && spec.Root.Path == labtest.BusyboxRootfs(e.t) {
		spec.Root.Path = ownRootfs(e.t, spec.Root.Path)
	}
	if spec.Linux.CgroupsPath == "" {
		spec.Linux.CgroupsPath = "/" + e.parent + "/" + id
	}
	b, err := json.Marshal(spec)
	require.NoError(e.t, err)
	require.NoError(e.t, os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644))
	return dir
}

// cgroupGone asserts that the container's cgroup directories are gone.
func (e *testEnv) cgroupGone(dirs []string) {
	e.t.Helper()
	require.NotEmpty(e.t, dirs)
	for _, d := range dirs {
		require.NoDirExists(e.t, d)
	}
}

// ownRootfs is base seen through an overlay of the test's own. A runtime
// writes into a bundle's root filesystem, which is the container's own:
// mount points for config.json's mounts (as runc makes them), the
// files of a container that writes. The busybox rootfs is every test's
// and every chapter's: nothing may land in it.
func ownRootfs(t *testing.T, base string) string {
	t.Helper()
	dir := t.TempDir()
	// A container in a user namespace is an unprivileged uid on the
	// host: it must be able to walk down to its root.
	for _, d := range []string{filepath.Dir(dir), dir} {
		require.NoError(t, os.Chmod(d, 0o755))
	}
	upper, work, merged := filepath.Join(dir, "upper"), filepath.Join(dir, "work"), filepath.Join(dir, "merged")
	for _, d := range []string{upper, work, merged} {
		require.NoError(t, os.Mkdir(d, 0o755))
	}
	require.NoError(t, unix.Mount("overlay", merged, "overlay", 0, "lowerdir="+base+",upperdir="+upper+",workdir="+work))
	t.Cleanup(func() { _ = unix.Unmount(merged, unix.MNT_DETACH) })
	return merged
}

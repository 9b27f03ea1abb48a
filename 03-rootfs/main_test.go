package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/01-namespaces/labtest"
)

func TestMain(m *testing.M) { labtest.Main(m, program.Init) }

// runProgram runs the chapter program's command line in-process.
func runProgram(t testing.TB, args ...string) (stdout, stderr string, status int) {
	return labtest.Run(t, program, args...)
}

// inRootfs runs sh -c script in a container on root and requires status 0.
func inRootfs(t *testing.T, root, script string, flags ...string) string {
	t.Helper()
	args := append(append([]string{"run", "--rootfs", root}, flags...), "--", "/bin/sh", "-c", script)
	out, errOut, status := runProgram(t, args...)
	require.Equal(t, 0, status, "stderr: %s", errOut)
	return out
}

func names(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var n []string
	for _, e := range entries {
		n = append(n, e.Name())
	}
	sort.Strings(n)
	return n
}

func TestS11_EachContainerHasItsOwnRootFilesystem(t *testing.T) {
	labtest.Privileged(t)
	t.Run("busybox", func(t *testing.T) {
		root := labtest.BusyboxRootfs(t)
		out, errOut, status := runProgram(t, "run", "--rootfs", root, "--", "/bin/ls", "-1A", "/")
		require.Equal(t, 0, status, errOut)
		assert.Equal(t, names(t, root), strings.Fields(out), "ls / inside lists the rootfs, not the host")
	})
	t.Run("a distribution's rootfs", func(t *testing.T) {
		root := labtest.DistroRootfs(t)
		out, errOut, status := runProgram(t, "run", "--rootfs", root, "--", "ls", "-1A", "/")
		require.Equal(t, 0, status, errOut)
		// The rootfs had no proc, sys or dev: they were created, as
		// mount points, and are listed like everything else.
		assert.Equal(t, names(t, root), strings.Fields(out))
		assert.Subset(t, strings.Fields(out), []string{"dev", "proc", "sys", "usr"})
		out, _, status = runProgram(t, "run", "--rootfs", root, "--", "bash", "-c", "echo $BASH_VERSION")
		assert.Equal(t, 0, status)
		assert.NotEmpty(t, strings.TrimSpace(out))
	})
	t.Run("the host's files are out of reach", func(t *testing.T) {
		secret := filepath.Join(t.TempDir(), "secret")
		require.NoError(t, os.WriteFile(secret, []byte("s3cr3t-data"), 0o600))
		out := inRootfs(t, labtest.BusyboxRootfs(t), "cat "+secret+" 2>&1 || echo unreachable; ls /work /usr/local/go 2>&1 | wc -l")
		assert.Contains(t, out, "unreachable")
		assert.NotContains(t, out, "s3cr3t-data")
	})
	t.Run("two containers do not share files", func(t *testing.T) {
		a, b := labtest.CopyRootfs(t), labtest.CopyRootfs(t)
		inRootfs(t, a, "echo mine > /tmp/note")
		out := inRootfs(t, b, "cat /tmp/note 2>/dev/null || echo absent")
		assert.Equal(t, "absent\n", out)
	})
}

func TestDockersDefaultsAreApplied(t *testing.T) {
	labtest.Privileged(t)
	root := labtest.BusyboxRootfs(t)
	out := inRootfs(t, root, `grep CapEff /proc/self/status
test -s /proc/kcore && echo kcore-readable || echo kcore-masked
echo 1 > /proc/sys/kernel/hostname 2>/dev/null && echo proc-sys-writable || echo proc-sys-ro
touch /sys/x 2>/dev/null && echo sys-writable || echo sys-ro
ls /dev`)
	assert.Contains(t, out, "CapEff:\t00000000a80425fb")
	assert.Contains(t, out, "kcore-masked")
	assert.Contains(t, out, "proc-sys-ro")
	assert.Contains(t, out, "sys-ro")
	for _, dev := range []string{"null", "zero", "full", "random", "urandom", "tty", "ptmx", "pts", "shm", "fd", "stdin", "stdout", "stderr"} {
		assert.Contains(t, strings.Fields(out), dev)
	}
}

func TestEnvWorkdirAndVolumes(t *testing.T) {
	labtest.Privileged(t)
	rw, ro := t.TempDir(), t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(ro, "in"), []byte("given\n"), 0o644))
	// -v and -w create their mount points and directory in the rootfs:
	// use a copy, the shared one stays as it is.
	out := inRootfs(t, labtest.CopyRootfs(t),
		`pwd; echo $GREETING; cat /ro/in; echo out > /rw/out; echo x > /ro/x 2>/dev/null || echo ro-refused`,
		"-e", "GREETING=hello", "-w", "/srv/app", "-v", rw+":/rw", "-v", ro+":/ro:ro")
	assert.Equal(t, "/srv/app\nhello\ngiven\nro-refused\n", out)
	b, err := os.ReadFile(filepath.Join(rw, "out"))
	require.NoError(t, err)
	assert.Equal(t, "out\n", string(b), "a write to a volume lands on the host")
	assert.NoFileExists(t, filepath.Join(ro, "x"))
}

func TestLimitsStillApply(t *testing.T) {
	labtest.Privileged(t)
	_, errOut, status := runProgram(t, "run", "--rootfs", labtest.BusyboxRootfs(t), "--memory", "16m", "--", "/bin/sh", "-c", "tail /dev/zero")
	assert.Equal(t, 137, status)
	assert.Contains(t, errOut, "out of memory (limit 16MiB)")
}

func TestNoMountIsLeftOnTheHost(t *testing.T) {
	labtest.Privileged(t)
	root := labtest.CopyRootfs(t)
	vol := t.TempDir()
	before := labtest.Mounts(t)
	inRootfs(t, root, "mount | wc -l", "-v", vol+":/data")
	// (A user namespace's root is uid 100000 outside, which cannot enter
	// the test's private temporary directory: use the shared rootfs.)
	inRootfs(t, labtest.BusyboxRootfs(t), "true", "--userns")
	after := labtest.Mounts(t)
	for _, m := range after {
		assert.False(t, strings.HasPrefix(m, root) || strings.HasPrefix(m, vol), "leftover mount %s", m)
	}
	// Other packages' tests may mount and unmount elsewhere meanwhile; the
	// system mounts and ours must be exactly as before.
	assert.Equal(t, filter(before, root, vol), filter(after, root, vol))
}

func filter(mounts []string, dirs ...string) []string {
	var out []string
	for _, m := range mounts {
		keep := m == "/" || strings.HasPrefix(m, "/proc") || strings.HasPrefix(m, "/sys") || strings.HasPrefix(m, "/dev")
		for _, d := range dirs {
			keep = keep || strings.HasPrefix(m, d)
		}
		if keep {
			out = append(out, m)
		}
	}
	return out
}

func TestBadFlagsAreOneLineAndCreateNothing(t *testing.T) {
	root := "/nonexistent-rootfs"
	for _, args := range [][]string{
		{"run", "--", "/bin/true"},
		{"run", "--rootfs", root, "--", "/bin/true"},
		{"run", "--rootfs", "relative/dir", "--", "/bin/true"},
		{"run", "--rootfs", "/", "-v", "nocolon", "--", "/bin/true"},
		{"run", "--rootfs", "/", "-v", "/nonexistent:/x", "--", "/bin/true"},
		{"run", "--rootfs", "/", "-e", "=x", "--", "/bin/true"},
		{"run", "--rootfs", "/", "--memory", "abc", "--", "/bin/true"},
		{"run", "--rootfs", "/", "--device", "/nonexistent-device", "--", "/bin/true"},
		{"run", "--rootfs", "/", "--device", "/etc/hostname", "--", "/bin/true"},
		{"run", "--rootfs", "/", "--device", "/dev/null:relative", "--", "/bin/true"},
		{"run", "--rootfs", "/", "--device", "/dev/null:/dev/n:rwx", "--", "/bin/true"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			out, errOut, status := runProgram(t, args...)
			assert.Equal(t, 125, status)
			assert.Empty(t, out)
			assert.Equal(t, 1, strings.Count(errOut, "\n"), "one line: %q", errOut)
		})
	}
}

func TestDevicesInTheContainer(t *testing.T) {
	labtest.Privileged(t)
	root := labtest.BusyboxRootfs(t)
	// By default: Docker's nodes only, and a node made with mknod does
	// not open.
	// (The node goes in the container's own /dev, a tmpfs: the shared
	// rootfs stays as it is.)
	out := inRootfs(t, root, `ls /dev; mknod /dev/made c 1 11 && echo made; (true >/dev/made) 2>&1; true`)
	assert.Contains(t, out, "made")
	assert.Contains(t, out, "/dev/made: Operation not permitted")
	assert.NotContains(t, strings.Fields(out), "kmsg")

	// --device: the host's node, with its numbers, mode and owner, and
	// the cgroup lets it open, here under another name.
	out = inRootfs(t, root, `stat -c '%F %t:%T %a %u:%g' /dev/log /dev/kmsg 2>&1; true >/dev/log && echo opened`,
		"--device", "/dev/kmsg:/dev/log:w")
	var st unix.Stat_t
	require.NoError(t, unix.Stat("/dev/kmsg", &st))
	assert.Contains(t, out, fmt.Sprintf("character special file %x:%x %o %d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev), st.Mode&0o7777, st.Uid, st.Gid))
	assert.Contains(t, out, "/dev/kmsg': No such file or directory")
	assert.Contains(t, out, "opened")
	// Only r granted: the write is refused. (Not the other way round:
	// opening kmsg to read also needs CAP_SYSLOG, which a container lacks.)
	out = inRootfs(t, root, `(true >/dev/kmsg) 2>&1; true`, "--device", "/dev/kmsg:r")
	assert.Contains(t, out, "/dev/kmsg: Operation not permitted")

	// In a user namespace the node cannot be made: the host's is bound.
	// The container's root is no root of the host's, so the node's mode
	// (0644 root:root) refuses the write: EACCES, the file's verdict,
	// where the cgroup's would be EPERM.
	out = inRootfs(t, root, `stat -c '%F %t:%T' /dev/kmsg; (true >/dev/kmsg) 2>&1; true`, "--userns", "--device", "/dev/kmsg")
	assert.Contains(t, out, fmt.Sprintf("character special file %x:%x", unix.Major(st.Rdev), unix.Minor(st.Rdev)))
	assert.Contains(t, out, "/dev/kmsg: Permission denied")
}

// TestPrivilegedTurnsTheConfinementOff: every capability, writable /sys
// and /proc/sys, nothing masked, the host's devices.
func TestPrivilegedTurnsTheConfinementOff(t *testing.T) {
	labtest.Privileged(t)
	root := labtest.BusyboxRootfs(t)
	out := inRootfs(t, root, `grep -E 'Cap(Eff|Bnd)' /proc/self/status
echo 1 > /proc/sys/net/ipv4/ip_forward && echo proc-sys-writable
grep ' /sys ' /proc/self/mounts | cut -d' ' -f4 | cut -d, -f1
test -e /dev/kmsg && echo has-kmsg
grep -c /proc/interrupts /proc/self/mountinfo || true`, "--privileged")
	bnd := ""
	for _, line := range strings.Split(hostFileText(t, "/proc/self/status"), "\n") {
		if v, ok := strings.CutPrefix(line, "CapBnd:"); ok {
			bnd = v
		}
	}
	assert.Equal(t, "CapEff:"+bnd+"\nCapBnd:"+bnd+"\nproc-sys-writable\nrw\nhas-kmsg\n0\n", out)
}

func hostFileText(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}

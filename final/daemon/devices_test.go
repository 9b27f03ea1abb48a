package daemon

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/labtest"
)

// A container gets Docker's device policy: it may make any node (mknod),
// but opens only the harmless ones. --device gives it one of the host's,
// --device-cgroup-rule lets it open one it makes.
func TestDevicesThroughTheCLI(t *testing.T) {
	l := newLab(t)
	// Writing to a node of the host's kernel log (c 1:11): refused.
	out := l.ok("run", "--rm", "busybox", "sh", "-c",
		"mknod /dev/k c 1 11 && echo made; (echo '<7>berth: device test' >/dev/k) 2>&1; true >/dev/null && echo null-ok; ls /dev/kmsg 2>&1; true")
	assert.Contains(t, out, "made")
	assert.Contains(t, out, "can't create /dev/k: Operation not permitted")
	assert.Contains(t, out, "null-ok")
	assert.Contains(t, out, "/dev/kmsg: No such file or directory")

	// --device: the node is there, and writes go through (a debug-level
	// line in the host's kernel log).
	out = l.ok("run", "--rm", "--device", "/dev/kmsg", "busybox", "sh", "-c",
		"stat -c '%F %t:%T' /dev/kmsg && echo '<7>berth: device test' >/dev/kmsg && echo written")
	assert.Equal(t, "character special file 1:b\nwritten\n", out)

	// --device-cgroup-rule: the node made with mknod opens, for what
	// the rule grants. (Writes only: opening kmsg to read also needs
	// CAP_SYSLOG, which a container lacks, whatever the cgroup says.)
	out = l.ok("run", "--rm", "--device-cgroup-rule", "c 1:11 w", "busybox", "sh", "-c",
		"mknod /dev/k c 1 11 && true >/dev/k && echo opened")
	assert.Equal(t, "opened\n", out)
	out = l.ok("run", "--rm", "--device-cgroup-rule", "c 1:11 r", "busybox", "sh", "-c",
		"mknod /dev/k c 1 11 && (true >/dev/k) 2>&1; true")
	assert.Contains(t, out, "can't create /dev/k: Operation not permitted")

	// An exec joins the container's cgroup, device policy included.
	l.ok("run", "-d", "--name", "devexec", "busybox", "sleep", "60")
	out = l.ok("exec", "devexec", "sh", "-c", "mknod /dev/k c 1 11 && (true >/dev/k) 2>&1; true")
	assert.Contains(t, out, "can't create /dev/k: Operation not permitted")
	l.ok("rm", "-f", "devexec")

	// inspect shows both as given.
	l.ok("create", "--name", "devs", "--device", "/dev/kmsg:/dev/log:w", "--device-cgroup-rule", "c 1:11 r", "busybox", "true")
	out = l.ok("inspect", "-f", "{{json .HostConfig.Devices}} {{json .HostConfig.DeviceCgroupRules}}", "devs")
	assert.Equal(t, `[{"PathOnHost":"/dev/kmsg","PathInContainer":"/dev/log","CgroupPermissions":"w"}] ["c 1:11 r"]`+"\n", out)
	l.ok("rm", "devs")
}

func TestBadDevicesAreRefused(t *testing.T) {
	l := newLab(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--device", "/dev/nonexistent"}, `error gathering device information while adding custom device "/dev/nonexistent": no such file or directory`},
		{[]string{"--device", "/etc/hostname"}, `error gathering device information while adding custom device "/etc/hostname": not a device node`},
		{[]string{"--device", "/dev/kmsg:dev/log"}, "dev/log is not an absolute path"},
		// Docker takes every device under a directory; berth refuses
		// rather than give a different set.
		{[]string{"--device", "/dev/net"}, "--device /dev/net: a directory of devices is not supported"},
		{[]string{"--device", "/dev/kmsg:/dev/log:rwx"}, "bad mode specified: rwx"},
		{[]string{"--device", "a:b:c:d"}, "bad format for path: a:b:c:d"},
		{[]string{"--device-cgroup-rule", "c 1:11"}, "invalid device cgroup format 'c 1:11'"},
	} {
		args := append(append([]string{"run", "--rm"}, tc.args...), "busybox", "true")
		_, errOut, code := l.docker("", args...)
		// 125, or 127 for "no such file": the docker CLI's codes.
		assert.Contains(t, []int{125, 127}, code, "%v", tc.args)
		assert.Contains(t, errOut, tc.want)
	}
	// What the docker CLI lets through, the API refuses with a 400.
	for _, rule := range []string{"c 1:11", "a 1:3 r", "c 1:3 rwx"} {
		_, err := l.client.ContainerCreate(labCtx(t), client.ContainerCreateOptions{
			Config:     &container.Config{Image: "busybox", Cmd: []string{"true"}},
			HostConfig: &container.HostConfig{Resources: container.Resources{DeviceCgroupRules: []string{rule}}},
		})
		require.Error(t, err, rule)
		assert.True(t, errdefs.IsInvalidArgument(err), "a 400: %v", err)
		assert.Contains(t, err.Error(), "invalid device cgroup rule format: '"+rule+"'")
	}
	assert.Empty(t, l.ok("ps", "-aq"), "nothing was created")
}

// TestSameAsDockerd_Devices compares, in a default container and in one
// with --device /dev/kmsg, the nodes in /dev and which device nodes open
// for writing: /dev/null, and nodes made with mknod for the kernel log
// (c 1:11), the first virtual console (c 4:0) and /dev/mem (c 1:1).
// (berth's /dev has a "core" link that Docker's lacks on a host without
// /proc/kcore; that is another change's business, so it is left out.)
func TestSameAsDockerd_Devices(t *testing.T) {
	l := newLab(t)
	engines := sideBySide(t, l, labtest.StartDockerd(t))
	script := `ls /dev | grep -vx core | tr '\n' ' '; echo
for n in k:1:11 tty0:4:0 mem:1:1; do
	IFS=: read name maj min <<EOF
$n
EOF
	mknod /tmp/$name c $maj $min 2>/dev/null || echo "mknod $name refused"
done
for f in /dev/null /dev/kmsg /tmp/k /tmp/tty0 /tmp/mem; do
	if [ -e $f ]; then (true >$f) 2>/dev/null && echo "$f opens" || echo "$f refused"; else echo "$f missing"; fi
done`
	results := map[string][]string{}
	for _, e := range engines {
		var got []string
		for _, flags := range [][]string{nil, {"--device", "/dev/kmsg"}} {
			args := append(append([]string{"run", "--rm"}, flags...), "busybox", "sh", "-c", script)
			out, err := e.run(args...)
			require.NoError(t, err, "%s: docker %s", e.name, strings.Join(args, " "))
			got = append(got, out)
		}
		results[e.name] = got
	}
	t.Logf("dockerd:\n%s", strings.Join(results["dockerd"], "\n"))
	assert.Equal(t, results["dockerd"], results["berthd"])
}

// TestAnImagesDeviceNodeDoesNotOpen: an image may ship a device node,
// even one every user may open (mode 0666). The node is made in the
// layer (Docker keeps such nodes too), but the device cgroup refuses to
// open it, for root and for any other user: what decides is the
// container's device policy, not the file's mode.
func TestAnImagesDeviceNodeDoesNotOpen(t *testing.T) {
	l := newLab(t)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range []*tar.Header{
		{Name: "kmsg", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 11, Mode: 0o666},
		{Name: "sh", Typeflag: tar.TypeSymlink, Linkname: "/bin/busybox", Mode: 0o777},
	} {
		require.NoError(t, tw.WriteHeader(h))
	}
	require.NoError(t, tw.Close())
	layer := filepath.Join(t.TempDir(), "layer.tar")
	require.NoError(t, os.WriteFile(layer, buf.Bytes(), 0o644))
	l.ok("import", layer, "devnode-layer")
	// On top of busybox, for a shell: a container of the imported
	// layer alone, with busybox's files bind-mounted read-only.
	for _, user := range []string{"0", "1000"} {
		out, errOut, code := l.docker("", "run", "--rm", "--user", user, "-v", labtest.BusyboxRootfs(t)+"/bin:/bin:ro",
			"devnode-layer", "/bin/sh", "-c", "stat -c '%F %t:%T %a' /kmsg; (true >/kmsg) 2>&1; true")
		require.Equal(t, 0, code, errOut)
		assert.Equal(t, "character special file 1:b 666\n/bin/sh: can't create /kmsg: Operation not permitted\n", out, "user %s", user)
	}
	l.ok("rmi", "devnode-layer")
}

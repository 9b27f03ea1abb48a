package daemon

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/labtest"
)

// processProbe prints, from inside the container, what --ulimit,
// --oom-score-adj and --sysctl changed.
const processProbe = `ulimit -n; ulimit -Hn; ulimit -c; ulimit -s
cat /proc/self/oom_score_adj
cat /proc/sys/kernel/msgmax /proc/sys/kernel/shm_rmid_forced /proc/sys/fs/mqueue/msg_max
cat /proc/sys/net/ipv4/ip_forward /proc/sys/net/core/somaxconn`

// TestSameAsDockerd_UlimitOOMSysctl: the limits, the OOM score and the
// namespaced kernel parameters a container asked for are what its
// command sees, under berthd as under dockerd, and the host's values
// are untouched.
func TestSameAsDockerd_UlimitOOMSysctl(t *testing.T) {
	l := newLab(t)
	hostMsgmax, err := os.ReadFile("/proc/sys/kernel/msgmax")
	require.NoError(t, err)
	hostForward, err := os.ReadFile("/proc/sys/net/ipv4/ip_forward")
	require.NoError(t, err)
	results := map[string][]string{}
	for _, e := range sideBySide(t, l, labtest.StartDockerd(t)) {
		out, err := e.run("run", "--rm",
			"--ulimit", "nofile=100:200", "--ulimit", "core=0", "--ulimit", "stack=-1",
			"--oom-score-adj", "500",
			"--sysctl", "kernel.msgmax=12345", "--sysctl", "kernel.shm_rmid_forced=1", "--sysctl", "fs.mqueue.msg_max=20",
			"--sysctl", "net.ipv4.ip_forward=1", "--sysctl", "net.core.somaxconn=77",
			"busybox", "sh", "-c", processProbe)
		require.NoError(t, err, e.name)
		results[e.name] = strings.Split(strings.TrimSpace(out), "\n")
	}
	assert.Equal(t, []string{"100", "200", "0", "unlimited", "500", "12345", "1", "20", "1", "77"}, results["berthd"])
	assert.Equal(t, results["dockerd"], results["berthd"])
	// The host kept its own values: they were the container's copies.
	after, _ := os.ReadFile("/proc/sys/kernel/msgmax")
	assert.Equal(t, string(hostMsgmax), string(after))
	after, _ = os.ReadFile("/proc/sys/net/ipv4/ip_forward")
	assert.Equal(t, string(hostForward), string(after))
}

// TestHardeningRefused: values the kernel would refuse, and kernel
// parameters that are not the container's own, are a 400 at create
// that names them. (The docker CLI itself refuses non-namespaced
// sysctls and unknown --cgroupns modes; final/cli's
// TestBerthdHardeningRefused sends them.)
func TestHardeningRefused(t *testing.T) {
	l := newLab(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--oom-score-adj", "1001"}, "Invalid value 1001, range for oom score adj is [-1000, 1000]"},
		{[]string{"--network", "host", "--sysctl", "net.ipv4.ip_forward=1"}, `sysctl "net.ipv4.ip_forward" is not allowed in the host's network namespace`},
		{[]string{"--group-add", "nosuchgroup"}, "unable to find group nosuchgroup"},
		{[]string{"--security-opt", "label=type:svirt_t"}, "berth does not apply SELinux labels"},
		{[]string{"--security-opt", "apparmor=docker-default"}, "berth does not load AppArmor profiles"},
	} {
		_, errOut, code := l.docker("", append(append([]string{"create"}, tc.args...), "busybox", "true")...)
		assert.NotEqual(t, 0, code, "%v", tc.args)
		assert.Contains(t, errOut, tc.want, "%v", tc.args)
	}
	// label=disable asks for nothing this kernel has (no SELinux): a
	// no-op, accepted.
	out, errOut, code := l.docker("", "run", "--rm", "--security-opt", "label=disable", "busybox", "echo", "ok")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "ok\n", out)
}

// TestSameAsDockerd_Groups: the command gets the user's groups from the
// image's /etc/group, and --group-add's, by name or number, as under
// dockerd; root included.
func TestSameAsDockerd_Groups(t *testing.T) {
	l := newLab(t)
	results := map[string][]string{}
	for _, e := range sideBySide(t, l, labtest.StartDockerd(t)) {
		must := e.mustFor(t)
		must("run", "--name", "grp-maker", "busybox", "sh", "-c", `
echo 'wheel:x:10:root,app' >> /etc/group
echo 'staff:x:50:app' >> /etc/group
echo 'app:x:1000:' >> /etc/group
echo 'app:x:1000:1000::/:/bin/sh' >> /etc/passwd`)
		must("commit", "grp-maker", "grp-img")
		var got []string
		for _, args := range [][]string{
			{},
			{"-u", "app"},
			{"-u", "app:staff"},
			{"-u", "1000"},
			{"-u", "2000:3000"},
			{"-u", "app", "--group-add", "staff", "--group-add", "4242", "--group-add", "wheel"},
			{"--group-add", "tty"},
			// setgroups needs CAP_SETGID, which the command does not
			// keep: init sets the groups before it drops it.
			{"--cap-drop", "ALL", "--group-add", "tty"},
			{"--init", "-u", "app", "--group-add", "tty"},
		} {
			cmd := append(append([]string{"run", "--rm"}, args...), "grp-img", "sh", "-c", "id; grep Groups /proc/self/status")
			got = append(got, strings.Join(args, " ")+": "+must(cmd...))
		}
		// An exec gets the same groups as the command.
		id := strings.TrimSpace(must("run", "-d", "-u", "app", "--group-add", "4242", "grp-img", "sleep", "1000"))
		got = append(got, "exec: "+must("exec", id, "id"), "exec -u root: "+must("exec", "-u", "root", id, "id"))
		must("rm", "-f", id)
		must("rm", "grp-maker")
		must("rmi", "grp-img")
		results[e.name] = got
	}
	assert.Equal(t, results["dockerd"], results["berthd"])
	assert.Contains(t, results["berthd"][0], "groups=0(root),10(wheel)")
}

// TestSameAsDockerd_DevAndReadOnly: /dev (its nodes, links, modes and
// owners, /dev/pts, /dev/shm, /dev/mqueue) is Docker's, the terminal
// of -t bound onto /dev/console included, and --read-only
// with --tmpfs /run leaves writable exactly what Docker leaves.
func TestSameAsDockerd_DevAndReadOnly(t *testing.T) {
	l := newLab(t)
	const dev = `find /dev /dev/pts /dev/shm /dev/mqueue -maxdepth 1 | sort -u | while read f; do
  if [ -L "$f" ]; then echo "$f -> $(readlink $f)"; else stat -c '%n %F %a %U %G %t:%T' "$f"; fi
done`
	const readOnly = `touch /x 2>&1; touch /tmp/x 2>&1
touch /run/x && echo run writable
touch /dev/shm/x && echo shm writable
touch /dev/x && echo dev writable
grep ' / ' /proc/self/mounts | cut -d' ' -f2,4 | cut -d, -f1
grep ' /run ' /proc/self/mounts | cut -d' ' -f2-4 | sed 's/,size=[^,]*//;s/,inode64//'`
	results := map[string][]string{}
	for _, e := range sideBySide(t, l, labtest.StartDockerd(t)) {
		var got []string
		for _, args := range [][]string{
			{"busybox", "sh", "-c", dev},
			// With a terminal, it is /dev/console too.
			{"-t", "busybox", "sh", "-c", dev},
			// /proc/sys stays read-only even where the container has its
			// own network namespace: Docker's --sysctl is the way.
			{"busybox", "sh", "-c", "sysctl -w net.ipv4.ip_forward=1 2>&1; sysctl -w kernel.msgmax=100 2>&1; true"},
			{"--read-only", "--tmpfs", "/run", "busybox", "sh", "-c", readOnly},
		} {
			out, err := e.run(append([]string{"run", "--rm"}, args...)...)
			require.NoError(t, err, "%s: %v", e.name, args)
			got = append(got, strings.ReplaceAll(out, "\r", ""))
		}
		results[e.name] = got
	}
	assert.Equal(t, results["dockerd"], results["berthd"])
	if _, err := os.Lstat("/proc/kcore"); err != nil {
		assert.NotContains(t, results["berthd"][0], "/dev/core", "runc links /dev/core only to an existing /proc/kcore")
	}
	assert.Contains(t, results["berthd"][1], "/dev/console character special file 620 root tty")
	assert.Contains(t, results["berthd"][2], "Read-only file system")
	assert.Contains(t, results["berthd"][3], "Read-only file system")
	assert.Contains(t, results["berthd"][3], "run writable")
}

// TestPrivileged: --privileged gives every capability the kernel knows,
// the host's devices, a writable /sys and /proc/sys, and masks nothing.
// (dockerd/runc cannot start a privileged container on this kind of
// machine, so there is nothing to compare with.)
func TestPrivileged(t *testing.T) {
	l := newLab(t)
	status, err := os.ReadFile("/proc/self/status")
	require.NoError(t, err)
	var hostBnd string
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "CapBnd:"); ok {
			hostBnd = strings.TrimSpace(v)
		}
	}
	hostDevs, err := os.ReadDir("/dev")
	require.NoError(t, err)
	var someDevice string // a device node of the host that Docker's default /dev lacks
	for _, d := range hostDevs {
		if d.Type()&os.ModeDevice != 0 && !strings.HasPrefix(d.Name(), "tty") && d.Name() != "console" && d.Name() != "ptmx" &&
			!strings.Contains(" null zero full random urandom ", " "+d.Name()+" ") {
			someDevice = "/dev/" + d.Name()
			break
		}
	}
	require.NotEmpty(t, someDevice)

	script := `grep -E '^Cap(Eff|Bnd)' /proc/self/status
test -e ` + someDevice + ` && echo has host device
grep -E ' /sys | /proc/sys ' /proc/self/mounts | cut -d' ' -f2,4 | cut -d, -f1
echo 1 > /proc/sys/net/ipv4/ip_forward && cat /proc/sys/net/ipv4/ip_forward
grep -c /dev/null /proc/self/mountinfo || true
test -e /dev/core && echo core; true`
	out, errOut, code := l.docker("", "run", "--rm", "--privileged", "busybox", "sh", "-c", script)
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, []string{"CapEff:\t" + hostBnd, "CapBnd:\t" + hostBnd, "has host device", "/sys rw", "1", "0"},
		strings.Split(strings.TrimSpace(out), "\n"))

	// An exec in a privileged container is privileged too, as in Docker.
	id, errOut, code := l.docker("", "run", "-d", "--privileged", "busybox", "sleep", "1000")
	require.Equal(t, 0, code, errOut)
	id = strings.TrimSpace(id)
	out, errOut, code = l.docker("", "exec", id, "grep", "CapEff", "/proc/self/status")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "CapEff:\t"+hostBnd+"\n", out)
	_, _, _ = l.docker("", "rm", "-f", id)

	// docker exec --privileged in an ordinary container: every
	// capability, but the container's seccomp filter (made for its own
	// capabilities: unshare stays refused) and its device cgroup (a
	// node made with mknod still does not open), as with Docker.
	id, errOut, code = l.docker("", "run", "-d", "busybox", "sleep", "1000")
	require.Equal(t, 0, code, errOut)
	id = strings.TrimSpace(id)
	out, errOut, code = l.docker("", "exec", "--privileged", id, "sh", "-c",
		`grep -E '^(CapEff|Seccomp):' /proc/self/status; unshare -U true 2>/dev/null || echo unshare refused
mknod /dev/k c 1 11 && (true >/dev/k) 2>/dev/null || echo kmsg refused`)
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "CapEff:\t"+hostBnd+"\nSeccomp:\t2\nunshare refused\nkmsg refused\n", out)
	out, errOut, code = l.docker("", "exec", id, "grep", "CapEff", "/proc/self/status")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "CapEff:\t00000000a80425fb\n", out, "a plain exec is not privileged")
	_, _, _ = l.docker("", "rm", "-f", id)

	// Without it: the default set, no host device, /sys read-only,
	// /proc/sys read-only, masked paths.
	out, errOut, code = l.docker("", "run", "--rm", "busybox", "sh", "-c", script)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "CapEff:\t00000000a80425fb")
	assert.NotContains(t, out, "has host device")
	assert.Contains(t, out, "/sys ro")
	assert.Contains(t, out, "/proc/sys ro")
}

// TestCgroupnsAndUserns: --cgroupns host keeps the host's cgroup
// namespace, where /proc/self/cgroup shows the container's whole path
// (with its ID); private (the default) shows "/". --userns host is what
// berth always does: no user namespace, the identity mapping.
func TestCgroupnsAndUserns(t *testing.T) {
	l := newLab(t)
	for _, tc := range []struct {
		mode   string
		init   bool
		withID bool
	}{{"host", false, true}, {"private", false, false}, {"", false, false}, {"", true, false}, {"host", true, true}} {
		args := []string{"run", "-d"}
		if tc.mode != "" {
			args = append(args, "--cgroupns", tc.mode)
		}
		if tc.init {
			args = append(args, "--init")
		}
		id, errOut, code := l.docker("", append(args, "busybox", "sh", "-c", "cat /proc/self/cgroup; sleep 1000")...)
		require.Equal(t, 0, code, errOut)
		id = strings.TrimSpace(id)
		// The command's view, and an exec's (which enters init's
		// namespaces: with --init, init stays PID 1).
		eventually(t, func() bool { out, _ := l.logs(id); return out != "" }, "the container's first lines")
		cmd, _ := l.logs(id)
		out, errOut, code := l.docker("", "exec", id, "cat", "/proc/self/cgroup")
		require.Equal(t, 0, code, errOut)
		for what, text := range map[string]string{"command": cmd, "exec": out} {
			if tc.withID {
				assert.Contains(t, text, id, "%s, --cgroupns %q --init=%v", what, tc.mode, tc.init)
			} else {
				assert.NotContains(t, text, id, "%s, --cgroupns %q --init=%v", what, tc.mode, tc.init)
			}
		}
		_, _, _ = l.docker("", "rm", "-f", id)
	}
	out, errOut, code := l.docker("", "run", "--rm", "--userns", "host", "busybox", "cat", "/proc/self/uid_map")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, []string{"0", "0", "4294967295"}, strings.Fields(out))
}

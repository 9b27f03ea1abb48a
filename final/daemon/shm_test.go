package daemon

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSameAsDockerd_PidAndIpc runs --pid and --ipc container:NAME,
// shareable and host against berthd and a private dockerd and compares
// what the containers see: one another's processes, the donor's
// /dev/shm, inspect's modes (names resolved to IDs), the joiner killed
// with the donor (137), the refusals to start with a stopped or a
// private donor, the host's namespaces, and an unknown donor.
func TestSameAsDockerd_PidAndIpc(t *testing.T) {
	results := map[string][]string{}
	for _, e := range compareEngines(t) {
		must := e.mustFor(t)
		var got []string
		must("run", "-d", "--name", "pi-donor", "--ipc", "shareable", "busybox", "sleep", "1000")
		must("run", "-d", "--name", "pi-join", "--ipc", "container:pi-donor", "--pid", "container:pi-donor", "busybox", "sleep", "1001")
		got = append(got, must("exec", "pi-join", "ps", "-o", "comm,args"))
		must("exec", "pi-donor", "sh", "-c", "echo shared > /dev/shm/x")
		got = append(got, must("exec", "pi-join", "cat", "/dev/shm/x"))
		donorNS := must("exec", "pi-donor", "sh", "-c", nsScript)
		joinNS := must("exec", "pi-join", "sh", "-c", nsScript)
		got = append(got, "same namespaces: "+boolString(donorNS == joinNS))
		got = append(got, longID.ReplaceAllString(must("inspect", "-f", "{{.HostConfig.IpcMode}} {{.HostConfig.PidMode}}", "pi-join", "pi-donor"), "ID"))

		// The donor's end is the joiner's.
		must("stop", "-t", "0", "pi-donor")
		got = append(got, must("wait", "pi-join"))
		_, err := e.run("start", "pi-join")
		got = append(got, startReason(err))
		// A private donor cannot be joined.
		must("run", "-d", "--name", "pi-private", "busybox", "sleep", "1000")
		got = append(got, must("inspect", "-f", "{{.HostConfig.IpcMode}} [{{.HostConfig.PidMode}}]", "pi-private"))
		must("create", "--name", "pi-refused", "--ipc", "container:pi-private", "busybox", "true")
		_, err = e.run("start", "pi-refused")
		got = append(got, startReason(err))
		// ...but its PID namespace can.
		got = append(got, must("run", "--rm", "--pid", "container:pi-private", "busybox", "ps", "-o", "comm,args"))

		// The host's.
		got = append(got, must("run", "--rm", "--pid", "host", "--ipc", "host", "busybox", "sh", "-c",
			nsScript+"; cat /proc/1/comm"))
		_, err = e.run("create", "--pid", "container:pi-nosuch", "busybox", "true")
		got = append(got, daemonError(err))
		_, err = e.run("create", "--ipc", "container:pi-nosuch", "busybox", "true")
		got = append(got, daemonError(err))
		must("rm", "-f", "pi-join", "pi-donor", "pi-private", "pi-refused")
		results[e.name] = got
	}
	host := []string{}
	for _, ns := range []string{"ipc", "pid"} {
		link, err := os.Readlink("/proc/self/ns/" + ns)
		require.NoError(t, err)
		host = append(host, link)
	}
	assert.Contains(t, results["berthd"][len(results["berthd"])-3], strings.Join(host, "\n"), "the host's namespaces")
	assert.Equal(t, results["dockerd"], results["berthd"])
}

// startReason is daemonError without the words berthd puts before a
// failed start's reason, as for --network container: ("failed to start
// container ID: starting container NAME: "): the reason is dockerd's.
func startReason(err error) string {
	msg := daemonError(err)
	if strings.HasPrefix(msg, "failed to start container ID: starting container ") {
		if _, after, ok := strings.Cut(msg, ": starting container "); ok {
			if _, reason, ok := strings.Cut(after, ": "); ok {
				return reason
			}
		}
	}
	return msg
}

// nsScript prints a process's IPC and PID namespaces.
const nsScript = "readlink /proc/self/ns/ipc; readlink /proc/self/ns/pid"

func boolString(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// A shareable container's /dev/shm is a tmpfs on the host while it
// runs, and nothing of it is left after its exit or its removal.
func TestShareableShmGoesAtExit(t *testing.T) {
	l := newLab(t)
	id := strings.TrimSpace(l.ok("run", "-d", "--ipc", "shareable", "--shm-size", "8m", "busybox", "sleep", "1000"))
	assert.Contains(t, l.ok("exec", id, "df", "-k", "/dev/shm"), "8192")
	assert.Contains(t, mountPoints(t), l.opts.DataRoot+"/containers/"+id+"/shm")
	l.ok("stop", "-t", "0", id)
	// Unmounted by the clean-up after the exit, which the daemon runs
	// once the stop's waiters have their answer (dockerd too cleans up
	// after it marks the container stopped): soon after the stop, not
	// necessarily before it returns.
	shm := l.opts.DataRoot + "/containers/" + id + "/shm"
	require.Eventually(t, func() bool { return !strings.Contains(mountPoints(t), shm) }, 30*time.Second, 10*time.Millisecond,
		"%s still mounted after the stop", shm)
	l.ok("start", id)
	assert.Contains(t, mountPoints(t), l.opts.DataRoot+"/containers/"+id+"/shm", "again at the next start")
	l.ok("rm", "-f", id)
	assert.NotContains(t, mountPoints(t), "/shm\n"+l.opts.DataRoot)
	assert.NotContains(t, mountPoints(t), l.opts.DataRoot+"/containers/"+id)

	// An IPC mode berth does not know is refused by name.
	_, errOut, code := l.docker("", "run", "--rm", "--ipc", "bogus", "busybox", "true")
	assert.NotEqual(t, 0, code)
	assert.Contains(t, errOut, "--ipc")
}

// mountPoints are this host's mount points, one a line.
func mountPoints(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	require.NoError(t, err)
	var b strings.Builder
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) > 4 {
			b.WriteString(f[4] + "\n")
		}
	}
	return b.String()
}

// With --userns-remap a container cannot share the host's or another
// container's PID and IPC namespaces (they belong to another user
// namespace): refused by name at create, unless --userns host.
func TestPidAndIpcSharingRefusedWithUserns(t *testing.T) {
	name, _, _ := remapUser(t)
	l := remapLab(t, name)
	l.ok("run", "-d", "--name", "pi-ns-donor", "--ipc", "shareable", "--userns", "host", "busybox", "sleep", "1000")
	for _, args := range [][]string{{"--pid", "host"}, {"--ipc", "host"}, {"--pid", "container:pi-ns-donor"}, {"--ipc", "container:pi-ns-donor"}} {
		_, errOut, code := l.docker("", append(append([]string{"create"}, args...), "busybox", "true")...)
		assert.Equal(t, 1, code, "%v", args)
		assert.Contains(t, errOut, "cannot be shared from a user namespace", "%v", args)
	}
	out := l.ok("run", "--rm", "--userns", "host", "--pid", "container:pi-ns-donor", "--ipc", "container:pi-ns-donor", "busybox", "ps", "-o", "comm")
	assert.Equal(t, "COMMAND\nsleep\nps\n", out)
}

package daemon

import (
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// securityCases are the run options whose confinement berthd must
// enforce exactly as dockerd does: the default, and each option that
// hardens or loosens a container. Each runs berth-probe (final/probe)
// under both engines.
var securityCases = []struct {
	name string
	args []string
}{
	{"default", nil},
	{"cap-drop ALL", []string{"--cap-drop", "ALL"}},
	{"cap-drop some", []string{"--cap-drop", "CHOWN", "--cap-drop", "cap_mknod"}},
	{"cap-add", []string{"--cap-add", "NET_ADMIN", "--cap-add", "SYS_PTRACE"}},
	{"cap-add SYS_ADMIN", []string{"--cap-add", "SYS_ADMIN"}},
	{"user", []string{"--user", "1000:1000"}},
	{"read-only", []string{"--read-only"}},
	{"no-new-privileges", []string{"--security-opt", "no-new-privileges"}},
	{"cgroupns private", []string{"--cgroupns", "private"}},
	{"seccomp unconfined", []string{"--security-opt", "seccomp=unconfined"}},
	{"ulimit and oom-score-adj", []string{"--ulimit", "nofile=100:200", "--ulimit", "core=-1", "--ulimit", "nproc=500", "--oom-score-adj", "500"}},
	{"sysctl", []string{"--sysctl", "kernel.msgmax=4242", "--sysctl", "net.core.somaxconn=99", "--sysctl", "net.ipv4.ip_unprivileged_port_start=80"}},
	{"group-add", []string{"--user", "1000:1000", "--group-add", "10", "--group-add", "4242"}},
	{"device", []string{"--device", "/dev/kmsg", "--device-cgroup-rule", "c 10:200 r"}},
	{"cgroupns host", []string{"--cgroupns", "host"}},
	{"limits", []string{"--cgroupns", "private", "--memory", "64m", "--cpus", "0.5", "--pids-limit", "50"}},
	// Not --cap-add ALL nor --privileged: runc refuses both on this
	// machine, whose own bounding set lacks CAP_SYS_RESOURCE ("unable to
	// apply caps"). TestPrivileged covers berth's side.
}

// tighter are the lines of berthd's report where berth is deliberately
// stricter than the dockerd 20.10 of this machine, each with the line
// dockerd prints instead ("" for none) and the reason. The comparison
// puts dockerd's line in their place.
var tighter = []struct{ berth, dockerd, why string }{
	{"mount /proc/acpi tmpfs ro,nosuid,nodev,noexec,relatime ro", "mount /proc/acpi tmpfs ro,relatime ro",
		"an empty read-only tmpfs over a masked directory: nosuid, nodev and noexec cost nothing"},
	{"mount /sys/firmware tmpfs ro,nosuid,nodev,noexec,relatime ro", "mount /sys/firmware tmpfs ro,relatime ro",
		"the same"},
	{"mount /proc/interrupts tmpfs rw,nosuid rw,size=65536k,mode=755", "",
		"Docker 28 masks /proc/interrupts (how busy the host's CPUs are); 20.10 did not yet"},
	{"path /proc/interrupts masked (/dev/null)", "path /proc/interrupts visible file", "the same"},
}

// asDockerd replaces the lines of berthd's report that tighter lists.
func asDockerd(lines []string) []string {
	out := lines[:0:0]
	for _, l := range lines {
		i := slices.IndexFunc(tighter, func(x struct{ berth, dockerd, why string }) bool { return x.berth == l })
		switch {
		case i < 0:
			out = append(out, l)
		case tighter[i].dockerd != "":
			out = append(out, tighter[i].dockerd)
		}
	}
	return out
}

// TestSameAsDockerd_Security runs berth-probe in a container under
// berthd and under a private dockerd, for the default and for each of
// securityCases, and requires the same report: capabilities, seccomp,
// blocked system calls, device access, /dev, mounts, masked and
// read-only paths, limits, identities and namespaced sysctls.
//
// Both containers have --network none: the same private network
// namespace, without addresses that would differ.
func TestSameAsDockerd_Security(t *testing.T) {
	engines := compareEngines(t)
	probe := buildProbe(t)
	// An exec'd process is held as the container's command is.
	t.Run("exec", func(t *testing.T) {
		got := map[string][]string{}
		for _, e := range engines {
			name := "probe-exec-" + e.name
			_, err := e.run("run", "-d", "--name", name, "--network", "none", "-v", probe+":/probe:ro", "busybox", "sleep", "1000")
			require.NoError(t, err, e.name)
			out, err := e.run("exec", name, "/probe/berth-probe")
			require.NoError(t, err, e.name)
			_, err = e.run("rm", "-f", name)
			require.NoError(t, err, e.name)
			got[e.name] = comparable(strings.Split(strings.TrimSpace(out), "\n"), nil)
		}
		got["berthd"] = asDockerd(got["berthd"])
		assert.Equal(t, got["dockerd"], got["berthd"], "berth-probe in docker exec under dockerd (expected) and berthd (actual)")
	})
	for _, c := range securityCases {
		t.Run(c.name, func(t *testing.T) {
			got := map[string][]string{}
			for _, e := range engines {
				args := append([]string{"run", "--rm", "--network", "none", "-v", probe + ":/probe:ro"}, c.args...)
				args = append(args, "busybox", "/probe/berth-probe")
				out, err := e.run(args...)
				require.NoError(t, err, "%s: docker %s", e.name, strings.Join(args, " "))
				got[e.name] = comparable(strings.Split(strings.TrimSpace(out), "\n"), c.args)
			}
			got["berthd"] = asDockerd(got["berthd"])
			assert.Equal(t, got["dockerd"], got["berthd"], "berth-probe under dockerd (expected) and berthd (actual)")
		})
	}
}

// comparable drops the lines that differ by design. When the options
// do not choose a cgroup namespace: Docker's default on cgroup v1 is the
// host's, where a container sees its cgroup's path; berth's is always a
// private one, where it sees "/" (the "cgroupns private" case compares
// them). With the host's cgroup namespace, the cgroup2 line of a hybrid
// host: runc puts the container in a cgroup2 cgroup of its own too,
// berth, which uses no cgroup2 controller there, leaves it in the
// daemon's.
func comparable(lines, args []string) []string {
	i := slices.Index(args, "--cgroupns")
	switch {
	case i < 0:
		return slices.DeleteFunc(lines, func(l string) bool { return strings.HasPrefix(l, "cgroupns ") })
	case i+1 < len(args) && args[i+1] == "host":
		return slices.DeleteFunc(lines, func(l string) bool { return strings.HasPrefix(l, "cgroupns 0: ") })
	}
	return lines
}

// buildProbe builds berth-probe, static so that it runs in any image,
// into a directory of its own, for a read-only bind mount at /probe.
func buildProbe(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "berth-probe"), "github.com/berth-project/berth/final/cmd/berth-probe")
	cmd.Env = append(cmd.Environ(), "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "building berth-probe: %s", out)
	return dir
}

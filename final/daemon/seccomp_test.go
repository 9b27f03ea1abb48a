package daemon

import (
	"errors"
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
	"github.com/berth-project/berth/03-rootfs/seccomp"
	"github.com/berth-project/berth/03-rootfs/seccomp/seccomptest"
)

// customProfile allows everything but add_key, with EACCES for mkdir.
const customProfile = `{
	"defaultAction": "SCMP_ACT_ALLOW",
	"syscalls": [
		{"names": ["add_key"], "action": "SCMP_ACT_ERRNO"},
		{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}
	]
}`

// TestSeccomp_SameAsDockerd runs the probe (seccomptest) through the
// docker CLI in berthd's and in a private dockerd's containers, under
// the default profile, seccomp=unconfined, a profile file and
// --cap-add SYS_ADMIN, and in an exec; both engines must answer alike.
func TestSeccomp_SameAsDockerd(t *testing.T) {
	// The same two engines as TestSameAsDockerd_VolumesNetworksAndNames.
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
	probe := seccomptest.Probe(t)
	profile := filepath.Join(t.TempDir(), "profile.json")
	require.NoError(t, os.WriteFile(profile, []byte(customProfile), 0o644))

	vol := probe + ":/probe:ro"
	results := map[string][]string{}
	for _, e := range engines {
		must := func(args ...string) string {
			t.Helper()
			out, err := e.run(args...)
			require.NoError(t, err, "%s: docker %s", e.name, strings.Join(args, " "))
			return strings.TrimSpace(out)
		}
		var got []string
		got = append(got, must("run", "--rm", "-v", vol, "busybox", "/probe"))
		got = append(got, must("run", "--rm", "-v", vol, "--security-opt", "seccomp=unconfined", "busybox", "/probe"))
		got = append(got, must("run", "--rm", "-v", vol, "--security-opt", "seccomp="+profile, "busybox", "sh", "-c", "/probe; mkdir /x 2>&1; true"))
		got = append(got, must("run", "--rm", "-v", vol, "--cap-add", "SYS_ADMIN", "busybox", "/probe"))
		got = append(got, must("run", "--rm", "busybox", "sh", "-c", "unshare -U true 2>&1 || echo refused"))
		id := must("run", "-d", "-v", vol, "--security-opt", "seccomp="+profile, "busybox", "sleep", "1000")
		got = append(got, must("exec", id, "/probe"))
		got = append(got, must("inspect", "-f", "{{json .HostConfig.SecurityOpt}}", id))
		must("rm", "-f", id)
		id = must("run", "-d", "-v", vol, "busybox", "sleep", "1000")
		got = append(got, must("exec", id, "/probe"))
		must("rm", "-f", id)
		results[e.name] = got
	}
	assert.Equal(t, results["dockerd"], results["berthd"])

	b := results["berthd"]
	require.Len(t, b, 8)
	assert.Equal(t, seccomptest.Refused, b[0], "the default profile")
	assert.True(t, strings.HasPrefix(b[1], "Seccomp=0 keyctl=allowed add_key=allowed"), "unconfined: %s", b[1])
	assert.Equal(t, "Seccomp=2 keyctl=allowed add_key=refused perf_event_open=allowed clone3=EINVAL unshare_user=allowed\nmkdir: can't create directory '/x': Permission denied", b[2], "a profile file")
	assert.Equal(t, "Seccomp=2 keyctl=refused add_key=refused perf_event_open=allowed clone3=EINVAL unshare_user=allowed", b[3], "CAP_SYS_ADMIN opens unshare, clone3 and perf_event_open")
	assert.Equal(t, "unshare: unshare(0x10000000): Operation not permitted\nrefused", b[4])
	assert.Equal(t, "Seccomp=2 keyctl=allowed add_key=refused perf_event_open=allowed clone3=EINVAL unshare_user=allowed", b[5], "an exec gets the container's profile")
	assert.Contains(t, b[6], `"seccomp={\"defaultAction\":\"SCMP_ACT_ALLOW\"`, "the CLI sends the profile's content")
	assert.Equal(t, seccomptest.Refused, b[7], "an exec gets the default profile")
}

// TestSeccomp_DaemonProfile: berthd's --seccomp-profile is the profile
// of containers that do not choose one; builtin chooses Docker's.
func TestSeccomp_DaemonProfile(t *testing.T) {
	l := prepareLab(t)
	l.opts.SeccompProfile = seccomp.Unconfined
	l.start()
	out := l.ok("run", "--rm", "busybox", "grep", "Seccomp:", "/proc/self/status")
	assert.Equal(t, "Seccomp:\t0\n", out)
	out = l.ok("run", "--rm", "--security-opt", "seccomp=builtin", "busybox", "grep", "Seccomp:", "/proc/self/status")
	assert.Equal(t, "Seccomp:\t2\n", out)
}

// TestSeccomp_BadProfileIsRefused: a profile berth cannot apply fails
// the create with a 400 that names it, before anything runs.
func TestSeccomp_BadProfileIsRefused(t *testing.T) {
	l := newLab(t)
	for name, opt := range map[string]string{
		"not JSON":       "seccomp={",
		"notify":         `seccomp={"defaultAction":"SCMP_ACT_NOTIFY","listenerPath":"/run/agent.sock"}`,
		"unknown action": `seccomp={"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_FLY"}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := l.client.ContainerCreate(labCtx(t), client.ContainerCreateOptions{
				Config:     &container.Config{Image: "busybox", Cmd: []string{"true"}},
				HostConfig: &container.HostConfig{SecurityOpt: []string{opt}},
			})
			require.Error(t, err)
			assert.True(t, errdefs.IsInvalidArgument(err), "%v", err)
			assert.Contains(t, err.Error(), "seccomp")
		})
	}
}

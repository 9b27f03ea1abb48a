package cli

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/labtest"
)

// docker runs the docker CLI 28 against e's daemon.
func (e *engine) docker(t *testing.T, args ...string) string {
	t.Helper()
	const bin = "/usr/local/bin/docker"
	_, err := os.Stat(bin)
	labtest.Need(t, err == nil, bin+" (a docker client) is not installed")
	cmd := exec.CommandContext(t.Context(), bin, args...)
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+e.host, "DOCKER_CONFIG="+t.TempDir())
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	require.NoError(t, cmd.Run(), "docker %s: %s", strings.Join(args, " "), errOut.String())
	return out.String()
}

// berth system df prints what docker system df prints, against the same
// berthd; berth update's limits reach the container's cgroup; berth
// image prune prints what docker image prune does.
func TestDfUpdatePruneOnBerthd(t *testing.T) {
	e := newBerthd(t)
	e.ok(t, "run", "--name", "df1", "-v", "dfv:/data", "busybox", "sh", "-c", "echo hello > /data/f; echo abc > /f")
	e.ok(t, "commit", "df1", "dfimg")
	e.ok(t, "commit", "df1", "dfimg") // the first dfimg dangles
	assert.Equal(t, e.docker(t, "system", "df"), e.ok(t, "system", "df"))
	out := e.ok(t, "system", "df", "-v")
	assert.Contains(t, out, "Images space usage:")
	assert.Regexp(t, `dfv\s+1\s+6B`, out)

	e.ok(t, "run", "-d", "--name", "up1", "--memory", "64m", "busybox", "sleep", "1000")
	assert.Equal(t, "up1\n", e.ok(t, "update", "--memory", "80m", "--cpus", "0.5", "--pids-limit", "40", "up1"))
	assert.Equal(t, "83886080 500000000 40\n", e.ok(t, "inspect", "-f", "{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}}", "up1"))
	pids := e.ok(t, "exec", "up1", "sh", "-c", "cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max")
	assert.Equal(t, "40\n", pids)

	// The same prune, twice: docker's output and berth's, from one
	// dangling image made the same way each time.
	e.ok(t, "image", "prune", "-f")
	e.ok(t, "commit", "df1", "dfimg")
	viaDocker := e.docker(t, "image", "prune", "-f")
	e.ok(t, "commit", "df1", "dfimg")
	viaBerth := e.ok(t, "image", "prune", "-f")
	assert.Equal(t, maskIDs(viaDocker), maskIDs(viaBerth))
	assert.Contains(t, viaBerth, "Deleted Images:\ndeleted: sha256:")
}

// maskIDs hides the sha256 digests in a prune's output.
func maskIDs(s string) string {
	var out []string
	for _, f := range strings.Split(s, "\n") {
		if i := strings.Index(f, "sha256:"); i >= 0 {
			f = f[:i] + "sha256:ID"
		}
		out = append(out, f)
	}
	return strings.Join(out, "\n")
}

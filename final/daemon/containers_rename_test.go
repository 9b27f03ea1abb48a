package daemon

import (
	"net/netip"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/berth-project/berth/05-network/nettest"
)

// longID is a container's full ID in an error message, which differs
// between the engines.
var longID = regexp.MustCompile(`[0-9a-f]{64}`)

// refusal is what the docker CLI printed for a failed command: its
// stderr (after dockerd's "exit status 1: " wrapping), IDs masked.
func refusal(err error) string {
	if err == nil {
		return "no error"
	}
	msg := err.Error()
	if _, after, ok := strings.Cut(msg, "exit status 1: "); ok {
		msg = after
	}
	return longID.ReplaceAllString(msg, "ID")
}

// TestSameAsDockerd_Rename runs docker rename against berthd and a
// private dockerd and compares what the CLI prints: each refusal (a
// taken name, an invalid one, the same name, a missing container), then
// the new name in ps, inspect and the user network's DNS (the old name
// no longer resolves), for a running and a stopped container, and the
// old name free for a new container.
//
// Every container gets --dns 127.0.0.1: a name neither engine knows is
// forwarded there (nothing answers), never to the host's resolvers.
func TestSameAsDockerd_Rename(t *testing.T) {
	results := map[string][]string{}
	for _, e := range compareEngines(t) {
		must := e.mustFor(t)
		nettest.Subnet(t, func(s netip.Prefix) error {
			_, err := e.run("network", "create", "--subnet", s.String(), "ren-net")
			return err
		})
		must("run", "-d", "--name", "ren-web", "--network", "ren-net", "--dns", "127.0.0.1", "busybox", "sleep", "1000")
		must("create", "--name", "ren-idle", "busybox", "true")
		var got []string
		for _, args := range [][]string{
			{"ren-web", "ren-idle"},  // taken: 409
			{"ren-web", "a/b"},       // invalid: 400
			{"ren-web", "ren-web"},   // the same name
			{"ren-nosuch", "ren-x"},  // no such container: 404
			{"ren-web", "/ren-idle"}, // a leading slash is the same name
		} {
			_, err := e.run(append([]string{"rename"}, args...)...)
			got = append(got, refusal(err))
		}
		must("rename", "ren-web", "ren-front")
		must("rename", "ren-idle", "/ren-stopped")
		got = append(got, must("ps", "-a", "--filter", "name=ren-", "--format", "{{.Names}} {{.State}}"))
		got = append(got, must("inspect", "-f", "{{.Name}} {{.State.Status}}", "ren-front", "ren-stopped"))
		got = append(got, must("run", "--rm", "--network", "ren-net", "--dns", "127.0.0.1", "busybox", "sh", "-c",
			"for n in ren-front ren-web; do nslookup -type=a $n >/dev/null 2>&1 && echo $n resolves || echo $n does not; done"))
		// The old name is free again.
		must("create", "--name", "ren-web", "busybox", "true")
		got = append(got, must("ps", "-a", "--filter", "name=ren-web", "--format", "{{.Names}}"))

		must("rm", "-f", "ren-front", "ren-stopped", "ren-web")
		must("network", "rm", "ren-net")
		results[e.name] = got
	}
	assert.Equal(t, results["dockerd"], results["berthd"])
}

// A renamed container keeps its new name through a restart of berthd,
// and its old one stays free.
func TestRenameSurvivesRestart(t *testing.T) {
	l := newLab(t)
	id := strings.TrimSpace(l.ok("run", "-d", "--name", "ren-before", "busybox", "sleep", "1000"))
	l.ok("rename", "ren-before", "ren-after")
	l.restart()
	assert.Equal(t, "/ren-after running\n", l.ok("inspect", "-f", "{{.Name}} {{.State.Status}}", id))
	assert.Equal(t, "ren-after\n", l.ok("ps", "--filter", "id="+id, "--format", "{{.Names}}"))
	_, errOut, code := l.docker("", "inspect", "ren-before")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "No such object: ren-before")
	l.ok("create", "--name", "ren-before", "busybox", "true")
	require.Equal(t, "ren-after\n", l.ok("ps", "--filter", "id="+id, "--format", "{{.Names}}"))
}

// Each refusal of a rename has dockerd's status code.
func TestRenameRefusalsStatus(t *testing.T) {
	l := newLab(t)
	l.ok("create", "--name", "ren-a", "busybox", "true")
	l.ok("create", "--name", "ren-b", "busybox", "true")
	for _, tc := range []struct {
		from, to string
		is       func(error) bool
	}{
		{"ren-a", "ren-b", errdefs.IsConflict},
		{"ren-a", "a/b", errdefs.IsInvalidArgument},
		{"ren-a", "-a", errdefs.IsInvalidArgument},
		{"ren-a", strings.Repeat("a", 200), errdefs.IsInvalidArgument},
		{"ren-a", "ren-a", errdefs.IsInvalidArgument},
		{"ren-nosuch", "ren-c", errdefs.IsNotFound},
	} {
		_, err := l.client.ContainerRename(labCtx(t), tc.from, client.ContainerRenameOptions{NewName: tc.to})
		assert.True(t, tc.is(err), "%s -> %s: %v", tc.from, tc.to, err)
	}
	assert.Equal(t, "/ren-a\n", l.ok("inspect", "-f", "{{.Name}}", "ren-a"), "refusals change nothing")
}

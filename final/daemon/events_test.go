package daemon

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/05-network/nettest"
)

// eventTime is a moment as the docker CLI sends --since and --until.
func eventTime(t time.Time) string { return fmt.Sprintf("%d.%09d", t.Unix(), t.Nanosecond()) }

// hexIDs are what differ between two engines doing the same: container,
// exec, image and network IDs.
var hexIDs = regexp.MustCompile(`(sha256:)?[0-9a-f]{64}`)

var reclaimed = regexp.MustCompile(`reclaimed:[0-9]+`)

// TestSameAsDockerd_Events runs the same docker CLI steps against berthd
// and a private dockerd 20.10 and compares what `docker events --since
// --until` prints of them: each event's type, action and attributes,
// IDs replaced.
func TestSameAsDockerd_Events(t *testing.T) {
	engines := compareEngines(t)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "in.txt"), []byte("in\n"), 0o644))
	results := map[string][]string{}
	for _, e := range engines {
		must := e.mustFor(t)
		file := func(name string) string { return filepath.Join(dir, e.name+"-"+name) }
		since := time.Now()
		nettest.Subnet(t, func(s netip.Prefix) error {
			_, err := e.run("network", "create", "--subnet", s.String(), "ev-net")
			return err
		})
		must("volume", "create", "ev-vol")
		must("run", "-d", "--name", "ev-a", "--network", "ev-net", "-v", "ev-vol:/data", "--label", "tier=web", "busybox", "sleep", "1000")
		must("exec", "ev-a", "true")
		_, err := e.run("exec", "ev-a", "sh", "-c", "exit 3")
		require.Error(t, err)
		must("pause", "ev-a")
		must("unpause", "ev-a")
		must("rename", "ev-a", "ev-b")
		must("top", "ev-b")
		must("cp", "ev-b:/etc/hostname", file("hostname"))
		must("cp", filepath.Join(dir, "in.txt"), "ev-b:/tmp/")
		must("kill", "-s", "USR1", "ev-b") // ignored by the container's init
		must("stop", "-t", "1", "ev-b")
		// dockerd's commit keeps the container's labels, berth's
		// the image's: a --change gives both images the label.
		must("commit", "--change", "LABEL tier=web", "ev-b", "ev-img")
		must("tag", "ev-img", "ev-img:two")
		must("export", "-o", file("export.tar"), "ev-b")
		must("save", "-o", file("save.tar"), "ev-img:two")
		must("rm", "ev-b")
		must("rmi", "ev-img:two")
		must("rmi", "ev-img")
		must("load", "-i", file("save.tar"))
		must("rmi", "ev-img:two")
		// With a tag: for "ev-imp" alone dockerd names the tag event
		// "ev-imp", berth "ev-imp:latest" (the server completes the
		// reference before the engine sees it).
		must("import", file("export.tar"), "ev-imp:v1")
		must("rmi", "ev-imp:v1")
		must("network", "rm", "ev-net")
		must("volume", "rm", "ev-vol")
		until := time.Now()

		out := must("events", "--since", eventTime(since), "--until", eventTime(until), "--format", "{{.Type}} {{.Action}} {{.Actor.Attributes}}")
		results[e.name] = strings.Split(strings.TrimSpace(hexIDs.ReplaceAllString(out, "<id>")), "\n")
	}
	assert.Equal(t, results["dockerd"], results["berthd"])
	if t.Failed() {
		t.Logf("dockerd:\n%s", strings.Join(results["dockerd"], "\n"))
		t.Logf("berthd:\n%s", strings.Join(results["berthd"], "\n"))
	}
}

// TestSameAsDockerd_EventsOfRunRestartAndNetworks: docker run attached
// (attach before start), --rm, restart, rm -f, network connect and
// disconnect of a running container, --network none, and prunes.
func TestSameAsDockerd_EventsOfRunRestartAndNetworks(t *testing.T) {
	engines := compareEngines(t)
	results := map[string][]string{}
	for _, e := range engines {
		must := e.mustFor(t)
		since := time.Now()
		nettest.Subnet(t, func(s netip.Prefix) error {
			_, err := e.run("network", "create", "--subnet", s.String(), "ev2-net")
			return err
		})
		must("run", "--name", "ev2-att", "--network", "none", "busybox", "true")
		must("run", "--rm", "--name", "ev2-rm", "--network", "none", "-v", "/data", "busybox", "true")
		must("run", "-d", "--name", "ev2-bg", "--network", "ev2-net", "busybox", "sleep", "1000")
		must("network", "disconnect", "ev2-net", "ev2-bg")
		must("network", "connect", "ev2-net", "ev2-bg")
		must("restart", "-t", "0", "ev2-bg")
		must("rm", "-f", "ev2-bg", "ev2-att")
		must("create", "--name", "ev2-created", "--network", "none", "-v", "/anon", "busybox", "true")
		must("container", "prune", "-f")
		must("network", "prune", "-f")
		must("volume", "prune", "-f")
		until := time.Now()

		out := must("events", "--since", eventTime(since), "--until", eventTime(until), "--format", "{{.Type}} {{.Action}} {{.Actor.Attributes}}")
		// The prunes' reclaimed space: berth counts the directories'
		// blocks (4096 for an empty layer or volume), dockerd only
		// the files'. That is the prunes' reports, not the events'.
		out = reclaimed.ReplaceAllString(out, "reclaimed:N")
		results[e.name] = strings.Split(strings.TrimSpace(hexIDs.ReplaceAllString(out, "<id>")), "\n")
	}
	// dockerd 20.10 reports a network disconnect of a running container
	// twice (its disconnectFromNetwork and DisconnectFromNetwork both
	// log it); berth once. The one duplicate is dropped.
	want := results["dockerd"]
	dup := "network disconnect map[container:<id> name:ev2-net type:bridge]"
	i := slices.Index(want, dup)
	require.True(t, i >= 0 && i+1 < len(want) && want[i+1] == dup, "dockerd's double disconnect: %q", want)
	want = slices.Delete(want, i, i+1)
	assert.Equal(t, want, results["berthd"])
	if t.Failed() {
		t.Logf("dockerd:\n%s", strings.Join(want, "\n"))
		t.Logf("berthd:\n%s", strings.Join(results["berthd"], "\n"))
	}
}

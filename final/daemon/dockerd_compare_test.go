package daemon

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/labtest"
	"github.com/berth-project/berth/05-network/nettest"
)

// engine is one of the daemons a comparison drives with the docker CLI.
type engine struct {
	name string
	run  func(args ...string) (string, error)
}

// mustFor is e's docker CLI for t: the output of a command, which must
// succeed.
func (e engine) mustFor(t *testing.T) func(args ...string) string {
	return func(args ...string) string {
		t.Helper()
		out, err := e.run(args...)
		require.NoError(t, err, "%s: docker %s", e.name, strings.Join(args, " "))
		return out
	}
}

// sideBySide is the lab's berthd and the dockerd d, with busybox
// imported into d as the lab has it.
func sideBySide(t *testing.T, l *lab, d *labtest.Dockerd) []engine {
	t.Helper()
	_, err := d.Run("import", labtest.BusyboxRootfs(t)+".tar", "busybox")
	require.NoError(t, err)
	return []engine{
		{"berthd", func(args ...string) (string, error) {
			out, errOut, code := l.docker("", args...)
			if code != 0 {
				return out, errors.New(errOut)
			}
			return out, nil
		}},
		{"dockerd", d.Run},
	}
}

// TestSameAsDockerd_VolumesNetworksAndNames runs the same docker CLI
// steps against berthd and a private dockerd 20.10 and compares what
// they print: volume filters, copy-up into a new volume and what the
// volume keeps, inspect's Mounts, a user network's names and aliases,
// and the network filter of ps.
//
// Every container gets --dns 127.0.0.1: a name neither engine knows is
// forwarded there (nothing answers), never to the host's resolvers.
func TestSameAsDockerd_VolumesNetworksAndNames(t *testing.T) {
	l := newLab(t)
	engines := sideBySide(t, l, labtest.StartDockerd(t))
	results := map[string][]string{}
	for _, e := range engines {
		must := e.mustFor(t)
		var got []string
		// Volumes: two labels ANDed; copy-up of the image's files into
		// a new volume, which keeps them and what the container adds.
		must("volume", "create", "--label", "a=1", "--label", "b=2", "cmp-both")
		must("volume", "create", "--label", "a=1", "cmp-only-a")
		got = append(got, must("volume", "ls", "-q", "--filter", "label=a=1", "--filter", "label=b"))
		got = append(got, must("volume", "inspect", "-f", "{{.Driver}} {{.Scope}} {{.Labels}}", "cmp-both"))
		must("run", "--name", "cmp-maker", "busybox", "sh", "-c", "mkdir -p /data/sub && echo one > /data/one && echo two > /data/sub/two && chmod 0640 /data/one")
		must("commit", "cmp-maker", "cmp-img")
		got = append(got, must("run", "--rm", "-v", "cmp-data:/data", "cmp-img", "sh", "-c", "find /data | sort; stat -c '%a %n' /data/one; echo three > /data/three"))
		got = append(got, must("run", "--rm", "-v", "cmp-data:/elsewhere", "busybox", "sh", "-c", "find /elsewhere | sort"))
		must("create", "--name", "cmp-mounts", "-v", "cmp-data:/data:ro", "busybox", "true")
		got = append(got, must("inspect", "-f", "{{range .Mounts}}{{.Type}} {{.Name}} {{.Destination}} {{.Driver}} {{.Mode}} {{.RW}}{{end}}", "cmp-mounts"))
		got = append(got, must("ps", "-a", "--filter", "volume=cmp-data", "--format", "{{.Names}}"))

		// A user network: names and aliases resolve there, other names
		// do not; ps filters by network.
		nettest.Subnet(t, func(s netip.Prefix) error {
			_, err := e.run("network", "create", "--subnet", s.String(), "cmp-net")
			return err
		})
		must("run", "-d", "--name", "cmp-web", "--network", "cmp-net", "--network-alias", "www", "--dns", "127.0.0.1", "busybox", "sleep", "1000")
		got = append(got, must("run", "--rm", "--network", "cmp-net", "--dns", "127.0.0.1", "busybox", "sh", "-c",
			"for n in cmp-web www; do nslookup -type=a $n >/dev/null && echo $n resolves; done; nslookup -type=a cmp-nosuch >/dev/null 2>&1 || echo cmp-nosuch does not"))
		got = append(got, must("ps", "--filter", "network=cmp-net", "--format", "{{.Names}}"))
		got = append(got, must("network", "ls", "--filter", "name=cmp-net", "--format", "{{.Name}} {{.Driver}} {{.Scope}}"))

		must("rm", "-f", "cmp-web", "cmp-maker", "cmp-mounts")
		must("network", "rm", "cmp-net")
		must("volume", "rm", "cmp-both", "cmp-only-a", "cmp-data")
		must("rmi", "cmp-img")
		results[e.name] = got
	}
	assert.Equal(t, results["dockerd"], results["berthd"])
}

// compareEngines starts a lab's berthd and a private dockerd 20.10, with
// busybox in both, for a comparison.
func compareEngines(t *testing.T) []engine {
	t.Helper()
	return sideBySide(t, newLab(t), labtest.StartDockerd(t))
}

package daemon

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/berth-project/berth/05-network/nettest"
)

// TestSameAsDockerd_LinksOnUserNetworks runs --link on a user network
// (as Compose's links: does) against berthd and a private dockerd and
// compares: the alias and the name resolve for the linking container,
// not for another; no /etc/hosts line; inspect's Links (moved from
// HostConfig to the endpoint); a target that does not exist (yet);
// dockerd's refusals. Every container gets
// --dns 127.0.0.1: a name neither engine knows goes nowhere.
func TestSameAsDockerd_LinksOnUserNetworks(t *testing.T) {
	results := map[string][]string{}
	for _, e := range compareEngines(t) {
		must := e.mustFor(t)
		var got []string
		nettest.Subnet(t, func(s netip.Prefix) error {
			_, err := e.run("network", "create", "--subnet", s.String(), "lk-net")
			return err
		})
		must("run", "-d", "--name", "lk-db", "--network", "lk-net", "--dns", "127.0.0.1", "busybox", "sleep", "1000")
		probe := "for n in database lk-db; do nslookup -type=a $n >/dev/null 2>&1 && echo $n resolves || echo $n does not; done; grep -c lk-db /etc/hosts || true"
		got = append(got, must("run", "--rm", "--network", "lk-net", "--link", "lk-db:database", "--dns", "127.0.0.1", "busybox", "sh", "-c", probe))
		got = append(got, must("run", "--rm", "--network", "lk-net", "--dns", "127.0.0.1", "busybox", "sh", "-c", probe))
		must("create", "--name", "lk-me", "--network", "lk-net", "--link", "lk-db:database", "--link", "lk-db", "busybox", "true")
		got = append(got, must("inspect", "-f", `{{json .HostConfig.Links}} {{json (index .NetworkSettings.Networks "lk-net").Links}}`, "lk-me"))
		for _, args := range [][]string{
			{"--name", "lk-any", "--network", "lk-net", "--link", "lk-nosuch"}, // a name looked up at each query
			{"--network", "host", "--link", "lk-db"},
			{"--network", "container:lk-db", "--link", "lk-db"},
		} {
			_, err := e.run(append(append([]string{"create"}, args...), "busybox", "true")...)
			got = append(got, daemonError(err))
		}
		must("rm", "-f", "lk-db", "lk-me", "lk-any")
		must("network", "rm", "lk-net")
		results[e.name] = got
	}
	assert.Equal(t, results["dockerd"], results["berthd"])
}

// On the default bridge a link would be a legacy link (/etc/hosts lines
// and variables), which berth does not write: refused by name.
func TestLegacyLinksRefusedByName(t *testing.T) {
	l := newLab(t)
	l.ok("run", "-d", "--name", "lk-target", "busybox", "sleep", "1000")
	_, errOut, code := l.docker("", "run", "--rm", "--link", "lk-target:db", "busybox", "true")
	assert.Equal(t, 125, code)
	assert.Contains(t, errOut, "--link on the default bridge network")
	assert.Equal(t, "lk-target\n", l.ok("ps", "-a", "--format", "{{.Names}}"), "nothing else was created")
}

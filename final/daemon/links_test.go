package daemon

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	apinet "github.com/moby/moby/api/types/network"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/labtest"
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

// TestSameAsDockerd_LegacyLinks runs --link on the default bridge
// against berthd and a private dockerd whose default bridge is a test
// bridge of its own, and compares: the linking container's /etc/hosts
// (its own line left out) and environment, with the target's address
// and ID normalised; inspect's Links; what a restart of the target with
// another address changes; and the refusals (a target that does not
// exist, one that does not run at the start, host networking).
func TestSameAsDockerd_LegacyLinks(t *testing.T) {
	l := newLab(t)
	br := nettest.Config(t)
	engines := sideBySide(t, l, labtest.StartDockerd(t, "--bridge", br.Bridge))
	results := map[string][]string{}
	for _, e := range engines {
		must := e.mustFor(t)
		var got []string
		must("run", "-d", "--name", "lk-db", "-e", "DB_PASSWORD=secret", "-e", "HOME=/data", "-e", "PATH=/bin",
			"--expose", "5432", "--expose", "8080-8081", "--expose", "9000-9002", "--expose", "53/udp", "busybox", "sleep", "1000")
		dbIP := strings.TrimSpace(must("inspect", "-f", `{{(index .NetworkSettings.Networks "bridge").IPAddress}}`, "lk-db"))
		dbHost := strings.TrimSpace(must("inspect", "-f", "{{.Config.Hostname}}", "lk-db"))
		norm := func(s string) string {
			return strings.NewReplacer(dbIP, "<db-ip>", dbHost, "<db-host>").Replace(s)
		}
		probe := `grep -v -e "$(hostname)" /etc/hosts; env | grep -v -e ^HOSTNAME= | sort`
		for _, link := range []string{"lk-db:db", "lk-db", "lk-db:my-db.x"} {
			got = append(got, norm(must("run", "--rm", "--name", "lk-probe", "--link", link, "busybox", "sh", "-c", probe)))
		}
		// inspect: /target:/me/alias, one per alias, whatever the order.
		must("create", "--name", "lk-me", "--link", "lk-db:db", "--link", "lk-db", "busybox", "true")
		links := strings.Fields(must("inspect", "-f", `{{range .HostConfig.Links}}{{println .}}{{end}}`, "lk-me"))
		slices.Sort(links)
		got = append(got, strings.Join(links, " "))

		// The target starts again with another address (another
		// container holds its old one meanwhile).
		must("run", "-d", "--name", "lk-app", "--link", "lk-db:db", "busybox", "sleep", "1000")
		must("stop", "-t", "0", "lk-db")
		must("run", "-d", "--name", "lk-filler", "busybox", "sleep", "1000")
		must("start", "lk-db")
		newIP := strings.TrimSpace(must("inspect", "-f", `{{(index .NetworkSettings.Networks "bridge").IPAddress}}`, "lk-db"))
		require.NotEqual(t, dbIP, newIP, e.name)
		line := must("exec", "lk-app", "sh", "-c", "grep -w db /etc/hosts; echo $DB_PORT_5432_TCP_ADDR")
		got = append(got, strings.NewReplacer(dbIP, "<old-ip>", newIP, "<new-ip>", dbHost, "<db-host>").Replace(line))

		// Refusals: at create, at start.
		for _, args := range [][]string{
			{"create", "--link", "lk-nosuch:db", "busybox", "true"},
			{"create", "--network", "host", "--link", "lk-db", "busybox", "true"},
		} {
			_, err := e.run(args...)
			got = append(got, daemonError(err))
		}
		must("run", "-d", "--name", "lk-hostnet", "--network", "host", "busybox", "sleep", "1000")
		_, err := e.run("create", "--link", "lk-hostnet", "busybox", "true")
		got = append(got, daemonError(err))
		must("create", "--name", "lk-one", "--link", "lk-db:db", "busybox", "true")
		must("stop", "-t", "0", "lk-db")
		_, err = e.run("start", "lk-one")
		got = append(got, daemonError(err))
		_, err = e.run("exec", "lk-app", "true")
		got = append(got, daemonError(err))

		must("rm", "-f", "lk-db", "lk-me", "lk-app", "lk-filler", "lk-hostnet", "lk-one")
		results[e.name] = got
	}
	assert.Equal(t, results["dockerd"], results["berthd"])
}

// linkEnv's rules, as TestSameAsDockerd_LegacyLinks sees dockerd apply
// them: the lowest port is _PORT, ports in order, a run of three ports or
// more also has _START and _END (of two, none), the alias is upper-cased
// with - as _, the target's HOME and PATH are not passed on.
func TestLinkEnv(t *testing.T) {
	ip := netip.MustParseAddr("10.88.0.5")
	ports := func(ps ...string) []apinet.Port {
		var out []apinet.Port
		for _, p := range ps {
			out = append(out, apinet.MustParsePort(p))
		}
		return out
	}
	each := func(n, proto string) []string {
		k := "MY_DB_PORT_" + n + "_" + strings.ToUpper(proto)
		return []string{k + "=" + proto + "://10.88.0.5:" + n, k + "_ADDR=10.88.0.5", k + "_PORT=" + n, k + "_PROTO=" + proto}
	}
	for _, tc := range []struct {
		name   string
		target linkTarget
		want   []string
	}{
		{"no ports", linkTarget{ip: ip, env: []string{"HOME=/x", "PATH=/bin", "A=b=c", "NOVALUE"}},
			[]string{"MY_DB_NAME=/me/my-db", "MY_DB_ENV_A=b=c"}},
		{"lowest first, a run of two", linkTarget{ip: ip, ports: ports("5432/tcp", "8081/tcp", "53/udp", "8080/tcp")},
			slices.Concat([]string{"MY_DB_PORT=udp://10.88.0.5:53"}, each("53", "udp"), each("5432", "tcp"),
				each("8080", "tcp"), each("8081", "tcp"), []string{"MY_DB_NAME=/me/my-db"})},
		{"a run of three", linkTarget{ip: ip, ports: ports("9002/tcp", "9000/tcp", "9001/tcp")},
			slices.Concat([]string{"MY_DB_PORT=tcp://10.88.0.5:9000",
				"MY_DB_PORT_9000_TCP_START=tcp://10.88.0.5:9000", "MY_DB_PORT_9000_TCP_ADDR=10.88.0.5",
				"MY_DB_PORT_9000_TCP_PROTO=tcp", "MY_DB_PORT_9000_TCP_PORT_START=9000",
				"MY_DB_PORT_9000_TCP_END=tcp://10.88.0.5:9002", "MY_DB_PORT_9000_TCP_PORT_END=9002"},
				each("9000", "tcp"), each("9001", "tcp"), each("9002", "tcp"), []string{"MY_DB_NAME=/me/my-db"})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, linkEnv("/me/my-db", tc.target))
		})
	}
}

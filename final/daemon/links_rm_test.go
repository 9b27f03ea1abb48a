package daemon

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/berth-project/berth/01-namespaces/labtest"
	"github.com/berth-project/berth/05-network/nettest"
)

// docker rm --link NAME/ALIAS removes a legacy link from the linking
// container, compared with a private dockerd: what inspect says of the
// links after, what the running linker still has (/etc/hosts, its
// environment), what it has after a restart, and the refusals.
func TestSameAsDockerd_RemoveLink(t *testing.T) {
	l := newLab(t)
	br := nettest.Config(t)
	engines := sideBySide(t, l, labtest.StartDockerd(t, "--bridge", br.Bridge))
	results := map[string][]string{}
	for _, e := range engines {
		must := e.mustFor(t)
		var got []string
		must("run", "-d", "--name", "lkr-db", "--expose", "5432", "busybox", "sleep", "1000")
		must("run", "-d", "--name", "lkr-app", "--link", "lkr-db:db", "--link", "lkr-db:other", "busybox", "sleep", "1000")
		dbIP := strings.TrimSpace(must("inspect", "-f", `{{(index .NetworkSettings.Networks "bridge").IPAddress}}`, "lkr-db"))
		dbHost := strings.TrimSpace(must("inspect", "-f", "{{.Config.Hostname}}", "lkr-db"))
		norm := strings.NewReplacer(dbIP, "<db-ip>", dbHost, "<db-host>").Replace
		probe := func() string {
			return norm(must("exec", "lkr-app", "sh", "-c", `grep -v -e "$(hostname)" /etc/hosts | grep -e db -e other; env | grep -e ^DB_ -e ^OTHER_ | sort`))
		}
		links := func() string {
			return must("inspect", "-f", `{{range .HostConfig.Links}}{{println .}}{{end}}`, "lkr-app")
		}
		got = append(got, "removed: "+must("rm", "--link", "/lkr-app/db"))
		got = append(got, "links: "+links(), "running: "+probe())
		must("restart", "-t", "0", "lkr-app")
		got = append(got, "links after restart: "+links(), "restarted: "+probe())
		for _, args := range [][]string{
			{"rm", "--link", "lkr-db"},
			{"rm", "--link", "/lkr-nosuch/db"},
			{"rm", "--link", "/lkr-app/nosuch"},
			{"rm", "--link", "/lkr-app/db"},
		} {
			_, err := e.run(args...)
			got = append(got, strings.Join(args, " ")+": "+daemonError(err))
		}
		assert.Equal(t, "running\n", must("inspect", "-f", "{{.State.Status}}", "lkr-db"), "the target is not removed")
		must("rm", "-f", "lkr-db", "lkr-app")
		results[e.name] = got
	}
	assert.Equal(t, results["dockerd"], results["berthd"])
}

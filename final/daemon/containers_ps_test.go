package daemon

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/labtest"
	"github.com/berth-project/berth/05-network/nettest"
)

// ps lists the running containers, or all with -a, newest first; -q
// gives IDs; --format and --filter work as in Docker.
func TestPs(t *testing.T) {
	l := newLab(t)
	old := strings.TrimSpace(l.ok("run", "-d", "--name", "older", "--label", "tier=db", "busybox", "sleep", "1000"))
	_, _, status := l.docker("", "run", "--name", "done3", "busybox", "sh", "-c", "exit 3")
	require.Equal(t, 3, status)
	l.ok("create", "--name", "fresh", "busybox", "true")
	young := strings.TrimSpace(l.ok("run", "-d", "--name", "younger", "busybox", "sleep", "1000"))

	assert.Equal(t, "younger\nolder\n", l.ok("ps", "--format", "{{.Names}}"), "running, newest first")
	assert.Equal(t, "younger\nfresh\ndone3\nolder\n", l.ok("ps", "-a", "--format", "{{.Names}}"))
	assert.Equal(t, young[:12]+"\n"+old[:12]+"\n", l.ok("ps", "-q"))
	assert.Equal(t, "done3\n", l.ok("ps", "-a", "--filter", "exited=3", "--format", "{{.Names}}"))
	assert.Equal(t, "fresh\n", l.ok("ps", "-a", "--filter", "status=created", "--format", "{{.Names}}"))
	assert.Equal(t, "older\n", l.ok("ps", "--filter", "label=tier=db", "--format", "{{.Names}}"))
	assert.Equal(t, "older\n", l.ok("ps", "--filter", "name=old", "--format", "{{.Names}}"))
	assert.Equal(t, "younger\n", l.ok("ps", "--filter", "id="+young[:8], "--format", "{{.Names}}"))
	assert.Equal(t, "younger\nolder\n", l.ok("ps", "--filter", "ancestor=busybox", "--format", "{{.Names}}"))
	assert.Equal(t, "younger\n", l.ok("ps", "-a", "-n", "1", "--format", "{{.Names}}"))
	line := l.ok("ps", "-a", "--filter", "name=done3", "--format", "{{.Image}}|{{.Command}}|{{.Status}}")
	assert.Regexp(t, `^busybox\|"sh -c exit 3"\|Exited \(3\) .* ago\n$`, line)
	assert.Regexp(t, `^Up `, l.ok("ps", "--filter", "name=younger", "--format", "{{.Status}}"))
	_, errOut, code := l.docker("", "ps", "--filter", "nosuch=1")
	assert.NotEqual(t, 0, code)
	assert.Contains(t, errOut, "invalid filter")

	list, err := l.client.ContainerList(labCtx(t), client.ContainerListOptions{All: true, Size: true})
	require.NoError(t, err)
	require.Len(t, list.Items, 4)
	for _, s := range list.Items {
		assert.Regexp(t, `^sha256:[0-9a-f]{64}$`, s.ImageID)
	}
}

// Several label filters must all match, as Docker ANDs them: Docker
// Compose selects one service of one project with two labels, and with
// them ORed, `compose exec web` could land in another service and `up
// --remove-orphans` remove another project's containers.
func TestPsAndImagesLabelFiltersMustAllMatch(t *testing.T) {
	l := newLab(t)
	for _, c := range []struct{ name, project, service string }{
		{"p1-web", "p1", "web"}, {"p1-db", "p1", "db"}, {"p2-web", "p2", "web"},
	} {
		l.ok("create", "--name", c.name,
			"--label", "com.docker.compose.project="+c.project,
			"--label", "com.docker.compose.service="+c.service, "busybox", "true")
	}
	ps := func(filters ...string) string {
		args := []string{"ps", "-a", "--format", "{{.Names}}"}
		for _, f := range filters {
			args = append(args, "--filter", "label="+f)
		}
		return l.ok(args...)
	}
	assert.Equal(t, "p1-web\n", ps("com.docker.compose.project=p1", "com.docker.compose.service=web"))
	assert.Equal(t, "p2-web\n", ps("com.docker.compose.project=p2", "com.docker.compose.service=web"))
	assert.Equal(t, "", ps("com.docker.compose.project=p2", "com.docker.compose.service=db"))
	assert.Equal(t, "p1-db\np1-web\n", ps("com.docker.compose.project=p1"))

	l.ok("commit", "--change", "LABEL tier=front", "--change", "LABEL app=shop", "p1-web", "labelled-front")
	l.ok("commit", "--change", "LABEL app=shop", "p1-db", "labelled-shop")
	images := func(filters ...string) string {
		args := []string{"images", "--format", "{{.Repository}}"}
		for _, f := range filters {
			args = append(args, "--filter", "label="+f)
		}
		return l.ok(args...)
	}
	assert.Equal(t, "labelled-front\n", images("tier=front", "app=shop"))
	assert.Equal(t, "", images("tier=back", "app=shop"))
	assert.ElementsMatch(t, []string{"labelled-front", "labelled-shop"}, strings.Fields(images("app")))
}

// inspect shows the request as Docker's inspect does, completed with
// the image's defaults, and the state.
func TestInspect(t *testing.T) {
	l := newLab(t)
	id := l.run("looked-at", container.Config{
		Cmd:    []string{"sleep", "1000"},
		Env:    []string{"MINE=1"},
		Labels: map[string]string{"a": "b"},
	}, &container.HostConfig{AutoRemove: false, NetworkMode: "none"})
	info := l.inspect("looked-at")
	assert.Equal(t, id, info.ID)
	assert.Equal(t, "/looked-at", info.Name)
	assert.Equal(t, "sleep", info.Path)
	assert.Equal(t, []string{"1000"}, info.Args)
	assert.Equal(t, container.StateRunning, info.State.Status)
	assert.True(t, info.State.Running)
	assert.Equal(t, l.state(id).Pid, info.State.Pid)
	assert.Regexp(t, `^sha256:[0-9a-f]{64}$`, info.Image)
	assert.Equal(t, "busybox", info.Config.Image)
	assert.Contains(t, info.Config.Env, "MINE=1")
	assert.Contains(t, info.Config.Env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "the image's environment too")
	assert.Equal(t, id[:12], info.Config.Hostname)
	assert.Equal(t, "b", info.Config.Labels["a"])
	assert.Equal(t, container.NetworkMode("none"), info.HostConfig.NetworkMode)
	assert.Equal(t, "linux", info.Platform)
	assert.Equal(t, filepath.Join(l.opts.DataRoot, "containers", id, "container.log"), info.LogPath)
	assert.NotEqual(t, "0001-01-01T00:00:00Z", info.State.StartedAt)
	assert.Equal(t, "0001-01-01T00:00:00Z", info.State.FinishedAt)

	assert.Equal(t, "running sleep\n", l.ok("inspect", "-f", "{{.State.Status}} {{.Path}}", "looked-at"))
}

// S36: docker top lists the processes of the container, and only them,
// with ps's columns.
func TestS36_Top(t *testing.T) {
	l := newLab(t)
	l.ok("run", "-d", "--name", "procs", "busybox", "sh", "-c", "sleep 101 & sleep 102 & wait")
	var out string
	eventually(t, func() bool {
		out = l.ok("top", "procs")
		// Lines that end so: the shell's own line names both sleeps too.
		return strings.Contains(out, "sleep 101\n") && strings.Contains(out, "sleep 102\n")
	}, "both sleeps show")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	assert.Regexp(t, `^UID\s+PID\s+PPID\s+C\s+STIME\s+TTY\s+TIME\s+CMD$`, lines[0], "ps -ef's columns")
	assert.Len(t, lines, 4, "sh and two sleeps: %s", out)
	assert.Contains(t, lines[1], "sh -c sleep 101 & sleep 102 & wait")
	assert.NotContains(t, out, "berth-shim")
	custom := l.ok("top", "procs", "-o", "pid,comm")
	assert.Regexp(t, `^\s*PID\s+COMMAND\n`, custom)
	_, errOut, code := l.docker("", "top", "no-such")
	assert.NotEqual(t, 0, code)
	assert.Contains(t, errOut, "No such container")
	l.ok("create", "--name", "idle", "busybox", "true")
	_, errOut, _ = l.docker("", "top", "idle")
	assert.Contains(t, errOut, "is not running")
}

// docker ps answers from memory (containers_view.go): every change of a
// container shows in the next list, whoever made it (the client, the
// shim, the container's own exit, a shim killed, a new daemon).
func TestPsFollowsEveryChange(t *testing.T) {
	l := newLab(t)
	net := labtest.Unique("psnet")
	l.ok("network", "create", net)
	t.Cleanup(func() { _, _, _ = l.docker("", "network", "rm", net) })
	line := func(name string) string {
		return strings.TrimSpace(l.ok("ps", "-a", "--filter", "name=^"+name+"$", "--format", "{{.Names}} {{.State}} {{.Networks}}"))
	}
	names := func(args ...string) string {
		return strings.TrimSpace(l.ok(append([]string{"ps", "--format", "{{.Names}}"}, args...)...))
	}

	l.ok("create", "--name", "pc-a", "busybox", "sleep", "1000")
	assert.Equal(t, "pc-a created bridge", line("pc-a"))
	l.ok("start", "pc-a")
	assert.Equal(t, "pc-a running bridge", line("pc-a"))
	assert.Empty(t, names("--filter", "network="+net))

	l.ok("network", "connect", net, "pc-a")
	assert.Equal(t, "pc-a", names("--filter", "network="+net))
	assert.ElementsMatch(t, []string{"bridge", net}, strings.Split(strings.TrimSpace(l.ok("ps", "--filter", "name=pc-a", "--format", "{{.Networks}}")), ","))
	l.ok("network", "disconnect", net, "pc-a")
	assert.Empty(t, names("--filter", "network="+net))

	l.ok("pause", "pc-a")
	assert.Equal(t, "pc-a paused bridge", line("pc-a"))
	assert.Regexp(t, `\(Paused\)$`, strings.TrimSpace(l.ok("ps", "--filter", "name=pc-a", "--format", "{{.Status}}")))
	l.ok("unpause", "pc-a")
	assert.Equal(t, "pc-a running bridge", line("pc-a"))
	// A signal meant to end it thaws a paused container; sleep as PID
	// 1 ignores SIGTERM and runs on.
	l.ok("pause", "pc-a")
	assert.Equal(t, "pc-a paused bridge", line("pc-a"))
	l.ok("kill", "-s", "TERM", "pc-a")
	assert.Equal(t, "pc-a running bridge", line("pc-a"))
	l.ok("commit", "pc-a", labtest.Unique("pc-img"))
	assert.Equal(t, "pc-a running bridge", line("pc-a"), "commit's pause is over")

	l.ok("rename", "pc-a", "pc-b")
	assert.Equal(t, "pc-b running bridge", line("pc-b"))
	assert.Empty(t, line("pc-a"))

	// An exit of the container's own: seen by docker wait, then by ps.
	l.ok("run", "-d", "--name", "pc-exit", "busybox", "sh", "-c", "while [ ! -f /tmp/go ]; do sleep 0.02; done; exit 4")
	assert.Equal(t, "pc-exit running bridge", line("pc-exit"))
	l.ok("exec", "pc-exit", "touch", "/tmp/go")
	assert.Equal(t, "4\n", l.ok("wait", "pc-exit"))
	assert.Equal(t, "pc-exit exited bridge", line("pc-exit"))
	assert.Equal(t, "pc-exit", names("-a", "--filter", "exited=4"))
	assert.NotContains(t, names(), "pc-exit")

	// A stop and a start again.
	l.ok("stop", "-t", "0", "pc-b")
	assert.Equal(t, "pc-b exited bridge", line("pc-b"))
	l.ok("start", "pc-b")
	assert.Equal(t, "pc-b running bridge", line("pc-b"))

	// Its shim killed: the container is not running any more, and ps
	// says what inspect says once the daemon has heard of it (the
	// watch's news comes on its own time: no client action reports it).
	shimPid := l.state("pc-b").ShimPid
	require.NotZero(t, shimPid)
	require.NoError(t, syscall.Kill(shimPid, syscall.SIGKILL))
	eventually(t, func() bool { return line("pc-b") != "pc-b running bridge" }, "ps still shows pc-b running after its shim died")
	assert.Equal(t, "pc-b "+strings.TrimSpace(l.ok("inspect", "-f", "{{.State.Status}}", "pc-b"))+" bridge", line("pc-b"))

	// A new daemon reads each container once, as it finds it.
	before := l.ok("ps", "-a", "--format", "{{.Names}} {{.State}} {{.Networks}}")
	l.restart()
	assert.Equal(t, before, l.ok("ps", "-a", "--format", "{{.Names}} {{.State}} {{.Networks}}"))

	l.ok("rm", "-f", "pc-b", "pc-exit")
	assert.Empty(t, line("pc-b"))
	assert.Empty(t, line("pc-exit"))
}

// ps's port and task filters, beside dockerd: publish and expose match
// the ports of running containers (dockerd 20.10 takes them from the
// network settings of the run: a created container has none), as ports,
// ranges or with a protocol; is-task=true lists nothing on an engine
// without swarm, false every container.
func TestSameAsDockerd_PsPortAndTaskFilters(t *testing.T) {
	l := newLab(t)
	d := labtest.StartDockerd(t)
	pub, exp := labtest.Unique("pf-pub"), labtest.Unique("pf-exp")
	results := map[string][]string{}
	for _, e := range sideBySide(t, l, d) {
		must := e.mustFor(t)
		net := labtest.Unique("pf-net")
		nettest.Subnet(t, func(s netip.Prefix) error {
			_, err := e.run("network", "create", "--subnet", s.String(), net)
			return err
		})
		must("create", "--name", pub+"-c", "--network", net, "-p", "127.0.0.1::80", "busybox", "true")
		must("create", "--name", exp+"-c", "--network", net, "--expose", "9000", "busybox", "true")
		must("run", "-d", "--name", pub, "--network", net, "-p", "127.0.0.1::80", "-p", "127.0.0.1::53/udp", "busybox", "sleep", "1000")
		must("run", "-d", "--name", exp, "--network", net, "--expose", "9000", "busybox", "sleep", "1000")
		for _, f := range []string{"publish=80", "publish=80/tcp", "publish=53", "publish=53/udp", "publish=79-81", "publish=9000",
			"expose=80", "expose=9000", "expose=8999-9001/tcp", "expose=9000/udp", "is-task=true", "is-task=false"} {
			out := must("ps", "-a", "--filter", f, "--filter", "name=pf-", "--format", "{{.Names}}")
			names := strings.Fields(strings.NewReplacer(pub, "pub", exp, "exp").Replace(out))
			slices.Sort(names)
			results[e.name] = append(results[e.name], f+": "+strings.Join(names, " "))
		}
		// PORTS: a running container's exposed ports, not the created
		// one's.
		out := must("ps", "-a", "--filter", "name="+exp, "--format", "{{.Names}} {{.Ports}}")
		results[e.name] = append(results[e.name], sortedLines(strings.ReplaceAll(out, exp, "exp")))
		for _, f := range []string{"publish=80:80", "expose=x", "is-task=maybe"} {
			_, err := e.run("ps", "-a", "--filter", f)
			results[e.name] = append(results[e.name], fmt.Sprintf("%s: refused %v", f, err != nil))
		}
		must("rm", "-f", pub, exp, pub+"-c", exp+"-c")
		must("network", "rm", net)
	}
	assert.Equal(t, results["dockerd"], results["berthd"])
}

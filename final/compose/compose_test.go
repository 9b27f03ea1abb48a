//go:build compose

// The tests of real Compose clients are a slow suite of their own: run
// them with scripts/test-compose (go test -tags compose ./final/compose),
// which .ci/run calls after scripts/test.

package compose

import (
	"bufio"
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/labtest"
)

// clients are the two Compose programs, each found or the test skipped
// (failed under BERTH_REQUIRE_PRIVILEGED=1: CI installs both).
func clients(t *testing.T) []Client {
	t.Helper()
	v2, err := V2()
	labtest.Need(t, err == nil, "Compose v2: "+errString(err))
	v1, err := V1()
	labtest.Need(t, err == nil, "Compose 1.29: "+errString(err))
	return []Client{v2, v1}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestComposeExample runs the example project through its life with
// each Compose client, against berthd and then against a private
// dockerd, checking each step on each engine and comparing what the two
// engines made the client print: up (and waiting for health), ps, logs
// and logs -f, exec, cp, stats --no-stream, restart, a config change
// then up -d, up --remove-orphans beside a second project, down -v.
func TestComposeExample(t *testing.T) {
	cs := clients(t)
	engines := []engine{startBerthd(t), startDockerd(t)}
	for _, c := range cs {
		t.Run(c.Name, func(t *testing.T) {
			// One name for both engines: what the client prints
			// names the project.
			name := labtest.Unique("cx")
			got := map[string][]string{}
			for _, e := range engines {
				got[e.name] = lifecycle(t, c, e, name)
			}
			for i := range got["berthd"] {
				if i < len(got["dockerd"]) {
					assert.Equal(t, got["dockerd"][i], got["berthd"][i], "%s step %d: berthd printed what dockerd printed", c.Name, i)
				}
			}
			assert.Equal(t, len(got["dockerd"]), len(got["berthd"]), "as many steps on both engines")
		})
	}
}

// step is one Compose command's output, normalised, for the comparison.
type steps struct {
	t    *testing.T
	e    engine
	port string
	out  []string
}

var (
	longID  = regexp.MustCompile(`\b[0-9a-f]{64}\b`)
	shortID = regexp.MustCompile(`\b[0-9a-f]{12}\b`)
	spaces  = regexp.MustCompile(`[ \t]+`)
	ago     = regexp.MustCompile(`(About a|About an|Less than a|\d+) (second|minute|hour)s? ago`)
)

// add keeps s, with what differs from run to run replaced: IDs, the
// published port, runs of blanks (table columns sized to their content).
func (s *steps) add(what, out string) {
	out = longID.ReplaceAllString(out, "ID")
	out = shortID.ReplaceAllString(out, "ID")
	out = strings.ReplaceAll(out, s.port, "PORT")
	out = ago.ReplaceAllString(out, "AGO")
	out = spaces.ReplaceAllString(out, " ")
	s.out = append(s.out, what+":\n"+out)
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// lifecycle runs the project's life with client c on engine e and
// returns the outputs to compare.
func lifecycle(t *testing.T, c Client, e engine, name string) []string {
	ctx := ctxFor(t, 10*time.Minute)
	s := &steps{t: t, e: e, port: freePort(t)}
	dir := copyExample(t)
	p := Project{Client: c, Host: e.host, Dir: dir, Name: name, Env: []string{"WEB_PORT=" + s.port}}
	must := func(args ...string) string {
		t.Helper()
		out, _, err := p.Run(ctx, args...)
		require.NoError(t, err, "%s on %s", c.Name, e.name)
		return out
	}
	docker := func(args ...string) string {
		t.Helper()
		out, err := p.Docker(ctx, args...)
		require.NoError(t, err, "%s on %s", c.Name, e.name)
		return out
	}
	t.Cleanup(func() { _, _, _ = p.Run(context.Background(), "down", "-v", "--remove-orphans") })

	// up: v2 waits for health itself; 1.29 has no --wait, its user
	// asks the engine until the healthchecks say healthy.
	if c.Name == "v2" {
		must("up", "-d", "--wait")
	} else {
		must("up", "-d")
		require.NoError(t, p.WaitHealthy(ctx), "%s on %s", c.Name, e.name)
	}
	before, err := p.Containers(ctx)
	require.NoError(t, err)
	require.Len(t, before["db"], 1, "%s on %s: %v", c.Name, e.name, before)
	require.Len(t, before["web"], 1)
	require.Len(t, before["app"], 1)
	assert.Equal(t, "healthy\n", docker("inspect", "-f", "{{.State.Health.Status}}", before["db"][0]))

	// What the file asked for, as the engine holds it.
	s.add("restart policies", docker("inspect", "-f", `{{index .Config.Labels "com.docker.compose.service"}} {{index .Config.Labels "com.docker.compose.oneoff"}} {{index .Config.Labels "com.docker.compose.container-number"}} {{.HostConfig.RestartPolicy.Name}} {{.HostConfig.RestartPolicy.MaximumRetryCount}} {{.HostConfig.Init}}`,
		before["db"][0], before["web"][0], before["app"][0]))
	s.add("mounts", docker("inspect", "-f", "{{range .Mounts}}{{.Type}} {{.Destination}} {{.RW}} {{end}}", before["db"][0], before["web"][0]))

	// ps
	if c.Name == "v2" {
		s.add("ps", must("ps", "--format", "{{.Name}} {{.Service}} {{.Image}} {{.State}} {{.Health}} {{.Ports}}"))
	} else {
		s.add("ps", must("ps"))
	}
	s.add("ps --services", sortLines(must("ps", "--services")))

	// The port is published on the loopback address only, and serves
	// the bind-mounted site.
	s.add("port", must("port", "web", "80"))
	s.add("published", docker("inspect", "-f", "{{json .NetworkSettings.Ports}} {{json .HostConfig.PortBindings}}", before["web"][0]))
	body := httpGet(t, "127.0.0.1:"+s.port)
	assert.Contains(t, body, "<title>berth example</title>", "%s on %s", c.Name, e.name)

	// exec: app reaches web by its name; web cannot resolve db; web's
	// content is read-only.
	out := must("exec", "-T", "app", "sh", "-c", `printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 3 web 80 | grep -o '<title>.*</title>'`)
	assert.Equal(t, "<title>berth example</title>\n", out, "%s on %s: app reaches web by name", c.Name, e.name)
	s.add("app to web", out)
	// (What nslookup prints differs: berthd answers that it does not
	// know db, the test's dockerd forwards to 127.0.0.1, where nothing
	// answers. Both fail.)
	_, _, err = p.Run(ctx, "exec", "-T", "web", "nslookup", "db")
	assert.Error(t, err, "%s on %s: web resolves db", c.Name, e.name)
	_, errOut, err := p.Run(ctx, "exec", "-T", "web", "sh", "-c", "echo x > /www/x")
	assert.Error(t, err, "%s on %s: web writes its site", c.Name, e.name)
	s.add("read-only", errOut)
	if e.name == "berthd" {
		// By address too: web has no route into back. (The test's
		// dockerd runs with --iptables=false: it has no isolation
		// rules, so this is berthd's alone.)
		dbIP := strings.TrimSpace(docker("inspect", "-f", `{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}`, before["db"][0]))
		_, _, err = p.Run(ctx, "exec", "-T", "web", "ping", "-c", "1", "-W", "1", dbIP)
		assert.Error(t, err, "web reaches db at %s", dbIP)
	}
	s.add("exec env", sortLines(must("exec", "-T", "app", "sh", "-c", "env | grep -E '^(GREETING|APP_NAME|POLL_SECONDS)='")))

	// logs, then logs -f returning when its service stops.
	s.add("logs db", logsWith(t, p, ctx, "db", "db: ready", 1))
	s.add("logs app", uniqueLines(logsWith(t, p, ctx, "app", "web says <title>berth example</title>", 1)))
	follow(t, p, ctx)

	// cp: v2 has `compose cp`; a 1.29 user runs docker cp on the
	// container compose ps -q names.
	local := filepath.Join(t.TempDir(), "rows")
	if c.Name == "v2" {
		must("cp", "db:/data/rows", local)
		must("cp", filepath.Join(dir, "app.env"), "db:/tmp/app.env")
	} else {
		dbID := strings.TrimSpace(must("ps", "-q", "db"))
		docker("cp", dbID+":/data/rows", local)
		docker("cp", filepath.Join(dir, "app.env"), dbID+":/tmp/app.env")
	}
	rows, err := os.ReadFile(local)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(rows), "started\n"), "%q", rows)
	s.add("cp in", must("exec", "-T", "db", "cat", "/tmp/app.env"))

	// stats --no-stream: one row per running container.
	var stats string
	if c.Name == "v2" {
		stats = must("stats", "--no-stream", "--format", "{{.Name}}")
	} else {
		ids := strings.Fields(must("ps", "-q"))
		stats = docker(append([]string{"stats", "--no-stream", "--format", "{{.Name}}"}, ids...)...)
	}
	s.add("stats", sortLines(stats))
	// The figures are the engine's: a running container uses memory.
	mem := docker("stats", "--no-stream", "--format", "{{.MemUsage}}", before["db"][0])
	assert.NotRegexp(t, `^0B `, mem, "%s on %s: db's memory", c.Name, e.name)

	// top: the service's processes; images: the image of each.
	top := must("top", "web")
	assert.Contains(t, top, "httpd -f -p 80 -h /www", "%s on %s", c.Name, e.name)
	s.add("images", must("images"))

	// pause and unpause: ps says so, and web serves again after.
	must("pause", "web")
	s.add("paused", docker("inspect", "-f", "{{.State.Status}} {{.State.Paused}}", before["web"][0]))
	must("unpause", "web")
	assert.Contains(t, httpGet(t, "127.0.0.1:"+s.port), "<title>berth example</title>", "%s on %s: after unpause", c.Name, e.name)

	// run --rm: a one-off container of app's, with its environment,
	// removed after. (docker-compose 1.29 links a one-off container to
	// its service's running containers with --link on the project's
	// network: a DNS alias there, final/daemon/links.go.)
	s.add("run --rm", must("run", "--rm", "--no-deps", "-T", "app", "sh", "-c", "echo $GREETING $APP_NAME"))
	oneoff, err := p.Docker(ctx, "ps", "-aq", "--filter", "label="+ProjectLabel+"="+name, "--filter", "label="+OneoffLabel+"=True")
	require.NoError(t, err)
	assert.Empty(t, oneoff, "%s on %s: run --rm left its container", c.Name, e.name)

	// restart: the same container, healthy again.
	must("restart", "db")
	require.NoError(t, p.WaitHealthy(ctx))
	afterRestart, err := p.Containers(ctx)
	require.NoError(t, err)
	assert.Equal(t, before, afterRestart, "%s on %s: restart keeps the containers", c.Name, e.name)
	s.add("logs db after restart", logsWith(t, p, ctx, "db", "db: ready", 2))

	// A config change to app only: up -d recreates app, keeps db and web.
	compose := filepath.Join(dir, "compose.yaml")
	yaml, err := os.ReadFile(compose)
	require.NoError(t, err)
	require.Contains(t, string(yaml), "GREETING: hello")
	require.NoError(t, os.WriteFile(compose, []byte(strings.Replace(string(yaml), "GREETING: hello", "GREETING: bonjour", 1)), 0o644))
	must("up", "-d")
	require.NoError(t, p.WaitHealthy(ctx))
	changed, err := p.Containers(ctx)
	require.NoError(t, err)
	assert.Equal(t, before["db"], changed["db"], "%s on %s: db is kept", c.Name, e.name)
	assert.Equal(t, before["web"], changed["web"], "%s on %s: web is kept", c.Name, e.name)
	assert.NotEqual(t, before["app"], changed["app"], "%s on %s: app is recreated", c.Name, e.name)
	require.Len(t, changed["app"], 1)
	s.add("changed env", must("exec", "-T", "app", "sh", "-c", "echo $GREETING"))

	// up --remove-orphans beside a second project: an extra service of
	// this project is an orphan once its file is dropped; the second
	// project (the same files, its own name and no published port)
	// is untouched.
	extra := "version: \"2.4\"\nservices:\n  extra:\n    image: busybox\n    command: [\"sleep\", \"3600\"]\n    networks: [back]\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "extra.yaml"), []byte(extra), 0o644))
	withExtra := p
	withExtra.Files = []string{"compose.yaml", "extra.yaml"}
	_, _, err = withExtra.Run(ctx, "up", "-d")
	require.NoError(t, err)
	other := p
	other.Name = name + "-other"
	t.Cleanup(func() { _, _, _ = other.Run(context.Background(), "down", "-v") })
	_, _, err = other.Run(ctx, "up", "-d", "db")
	require.NoError(t, err)
	otherBefore, err := other.Containers(ctx)
	require.NoError(t, err)
	withOrphan, err := p.Containers(ctx)
	require.NoError(t, err)
	require.Len(t, withOrphan["extra"], 1)
	must("up", "-d", "--remove-orphans")
	afterOrphans, err := p.Containers(ctx)
	require.NoError(t, err)
	assert.Empty(t, afterOrphans["extra"], "%s on %s: the orphan is removed", c.Name, e.name)
	assert.Equal(t, changed, afterOrphans, "%s on %s: the rest is kept", c.Name, e.name)
	otherAfter, err := other.Containers(ctx)
	require.NoError(t, err)
	assert.Equal(t, otherBefore, otherAfter, "%s on %s: the other project is untouched", c.Name, e.name)
	assert.Equal(t, "true\n", docker("inspect", "-f", "{{.State.Running}}", otherAfter["db"][0]))

	// down -v: nothing of the project left, the other project's still there.
	must("down", "-v")
	label := "label=" + ProjectLabel + "=" + name
	assert.Empty(t, docker("ps", "-aq", "--filter", label), "%s on %s: containers left", c.Name, e.name)
	assert.Empty(t, docker("network", "ls", "-q", "--filter", label), "%s on %s: networks left", c.Name, e.name)
	assert.Empty(t, docker("volume", "ls", "-q", "--filter", label), "%s on %s: volumes left", c.Name, e.name)
	s.add("other project's volumes", docker("volume", "ls", "-q", "--filter", "label="+ProjectLabel+"="+other.Name))
	_, _, err = other.Run(ctx, "down", "-v")
	require.NoError(t, err)
	assert.Empty(t, docker("ps", "-aq"), "%s on %s: containers left", c.Name, e.name)
	assert.Empty(t, docker("volume", "ls", "-q"), "%s on %s: volumes left", c.Name, e.name)
	assert.Empty(t, docker("network", "ls", "-q", "--filter", "type=custom"), "%s on %s: networks left", c.Name, e.name)
	return s.out
}

// follow runs logs -f on app until it has printed a line, stops app, and
// checks that logs -f then returns by itself, having printed what app
// printed before it stopped.
func follow(t *testing.T, p Project, ctx context.Context) {
	t.Helper()
	fctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := p.Command(fctx, "logs", "-f", "--no-color", "app")
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	lines := bufio.NewScanner(stdout)
	seen := false
	for !seen && lines.Scan() {
		seen = strings.Contains(lines.Text(), "web says <title>berth example</title>")
	}
	require.True(t, seen, "%s on %s: logs -f printed app's lines", p.Client.Name, p.Host)
	_, _, err = p.Run(ctx, "stop", "app")
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, stdout)
	assert.NoError(t, cmd.Wait(), "%s on %s: logs -f returns once app has stopped", p.Client.Name, p.Host)
	assert.NoError(t, fctx.Err(), "%s on %s: logs -f did not return when app stopped", p.Client.Name, p.Host)
	_, _, err = p.Run(ctx, "start", "app")
	require.NoError(t, err)
}

// logsWith is the logs of service once they hold line n times: a line
// printed before the healthcheck that followed it may reach the log a
// moment after the check (the engine copies the container's output
// apart from running the check).
func logsWith(t *testing.T, p Project, ctx context.Context, service, line string, n int) string {
	t.Helper()
	for {
		out, _, err := p.Run(ctx, "logs", "--no-color", service)
		require.NoError(t, err)
		if strings.Count(out, line) >= n {
			return out
		}
		select {
		case <-ctx.Done():
			require.Failf(t, "logs", "%s: %q not %d times in %s's logs: %s", p.Client.Name, line, n, service, out)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func sortLines(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	sort.Strings(lines)
	return strings.Join(lines, "\n") + "\n"
}

// uniqueLines is s's distinct lines, sorted: a looping service prints as
// many as it had time for.
func uniqueLines(s string) string {
	seen := map[string]bool{}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		if !seen[l] {
			seen[l] = true
			lines = append(lines, l)
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n") + "\n"
}

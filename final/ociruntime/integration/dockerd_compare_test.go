//go:build oci

package integration

import (
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/labtest"
)

// dockerd drives the real docker CLI against a private dockerd.
type dockerd struct {
	*labtest.Dockerd
	cli string
}

// docker runs the docker CLI with stdin from stdin ("" for none).
func (d dockerd) docker(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	cmd := exec.Command(d.cli, args...)
	cmd.Env = d.Env()
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	r := result{Stdout: out.String(), Stderr: errOut.String()}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		r.Code = exit.ExitCode()
	} else if err != nil {
		t.Fatalf("docker %v: %v", args, err)
	}
	return r
}

// waitLogs polls `docker logs` until it holds n lines of want (a detached
// container's output is not announced), for at most 30 s.
func (d dockerd) waitLogs(t *testing.T, name, want string, n int) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := d.docker(t, "", "logs", name)
		if strings.Count(r.Stdout, want) >= n || time.Now().After(deadline) {
			return r.Stdout
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// hostNames are the names of the host's network links and of its
// iptables chains, to show that dockerd left none of its own.
func hostNames(t *testing.T) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	out, err := exec.Command("ip", "-o", "link").Output()
	require.NoError(t, err)
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 1 {
			names["link "+strings.TrimSuffix(strings.Split(f[1], "@")[0], ":")] = true
		}
	}
	for _, table := range []string{"filter", "nat"} {
		out, err := exec.Command("iptables", "-t", table, "-S").Output()
		if err != nil {
			continue // no iptables here: nothing for dockerd to leave
		}
		for _, line := range strings.Split(string(out), "\n") {
			if f := strings.Fields(line); len(f) > 1 && f[0] == "-N" {
				names["chain "+table+" "+f[1]] = true
			}
		}
	}
	return names
}

// ids are what dockerd names things by: image and container IDs.
var ids = regexp.MustCompile(`(sha256:)?\b[0-9a-f]{64}\b|\b[0-9a-f]{12}\b`)

// TestDockerd_SameAsRunc runs the seed's docker commands against a
// private dockerd 20.10 with `--runtime runc`, then `--runtime berth`
// (dockerd --add-runtime berth=berth-runtime: the same containerd shim
// with berth-runtime as its binary), and compares what the docker CLI
// printed and returned.
func TestDockerd_SameAsRunc(t *testing.T) {
	rts := runtimes(t)
	cli, err := exec.LookPath("docker")
	labtest.Need(t, err == nil, "the docker client is not installed (Debian: apt-get install docker.io)")
	archive := busyboxArchive(t)
	before := hostNames(t)
	// labtest's dockerd has no bridge and no iptables rules; no ip6tables
	// ones either.
	flags := []string{"--ip6tables=false"}
	for _, rt := range rts {
		if rt.Name != "runc" {
			flags = append(flags, "--add-runtime", rt.Name+"="+rt.Path)
		}
	}
	// Checked after the dockerd's own clean-up (cleanups run last
	// registered first).
	t.Cleanup(func() {
		after := hostNames(t)
		var left []string
		for name := range after {
			if !before[name] && (strings.Contains(name, "docker") || strings.Contains(name, "DOCKER")) {
				left = append(left, name)
			}
		}
		sort.Strings(left)
		assert.Empty(t, left, "dockerd left these on the host")
	})
	d := dockerd{labtest.StartDockerd(t, flags...), cli}
	r := d.docker(t, "", "load", "-i", archive)
	require.Equal(t, 0, r.Code, r.Stderr)

	for _, cs := range dockerCases {
		t.Run(cs.name, func(t *testing.T) {
			var want string
			for _, rt := range rts {
				name := cs.name + "-" + rt.Name
				tr := &transcript{replace: []string{name, "NAME", "img-" + rt.Name, "IMG"}}
				t.Run(rt.Name, func(t *testing.T) {
					cs.run(t, d, rt.Name, name, tr)
					t.Logf("docker with %s:\n%s", rt.Name, tr)
				})
				if rt.Name == "runc" {
					want = tr.String()
					continue
				}
				assert.Equal(t, want, tr.String(), "docker's transcript with --runtime %s, beside runc's", rt.Name)
			}
		})
	}
}

// dockerCase is one scenario of TestDockerd_SameAsRunc.
type dockerCase struct {
	name string
	run  func(t *testing.T, d dockerd, rt, name string, tr *transcript)
}

var dockerCases = []dockerCase{
	{"run", func(t *testing.T, d dockerd, rt, name string, tr *transcript) {
		r := d.docker(t, "", "run", "--rm", "--runtime", rt, "--network", "none", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3")
		tr.add("run, exit 3", r)
		assert.Equal(t, result{"out\n", "err\n", 3}, r)
		r = d.docker(t, "hello through stdin\n", "run", "--rm", "-i", "--runtime", rt, "--network", "none", "busybox", "cat")
		tr.add("run -i, cat", r)
		assert.Equal(t, result{"hello through stdin\n", "", 0}, r)
		r = d.docker(t, "", "run", "--rm", "-t", "--runtime", rt, "--network", "none", "busybox", "tty")
		tr.add("run -t", r)
		assert.Equal(t, 0, r.Code, r.Stderr)
		// -it: the CLI's own terminal (a pty of the test's) for the
		// container's, stdin included; the CLI sets the size after the
		// start, which the script waits for.
		cmd := exec.Command(d.cli, "run", "--rm", "-it", "--runtime", rt, "--network", "none", "busybox", "sh", "-c", waitSize+"tty; stty size; exit 4")
		cmd.Env = d.Env()
		r = onTerminal(t, cmd)
		tr.add("run -it", r)
		assert.Equal(t, 4, r.Code, r.Stdout)
		for _, step := range []struct {
			args []string
			code int
		}{
			{[]string{"false"}, 1},
			{[]string{"sh", "-c", "exit 42"}, 42},
			// busybox's sh may or may not say "Killed" (its own race
			// between SIGCHLD and wait): its stderr is not compared.
			{[]string{"sh", "-c", "exec 2>/dev/null; sleep 1000 & kill -9 $!; wait $!"}, 137},
			// dockerd reads the runtime's error: "no such file or
			// directory" makes it 127.
			{[]string{"/no/such/program"}, 127},
		} {
			r := d.docker(t, "", append([]string{"run", "--rm", "--runtime", rt, "--network", "none", "busybox"}, step.args...)...)
			if step.code == 127 {
				t.Logf("%s: a missing program: status %d: %s", rt, r.Code, r.Stderr)
				tr.note(strings.Join(step.args, " "), fmt.Sprintf("status %d", r.Code))
			} else {
				tr.add(strings.Join(step.args, " "), r)
			}
			assert.Equal(t, step.code, r.Code, "%v: %s", step.args, r.Stderr)
		}
	}},
	{"environment", func(t *testing.T, d dockerd, rt, name string, tr *transcript) {
		// What docker's default confinement gives the process: the
		// capabilities, seccomp, the mounts (dockerd's /etc/hosts and
		// friends among them), /dev, the cgroups, the namespaces.
		script := `id; pwd; umask; echo "$PATH"; ls /dev; ls /dev/pts /dev/shm /dev/mqueue;
grep -E '^(Cap|NoNewPrivs|Seccomp)' /proc/self/status; cat /proc/self/oom_score_adj; ulimit -n; ulimit -u;
cat /proc/self/cgroup; awk '$3 == "overlay" {print $1, $2, $3; next} {print $1, $2, $3, $4}' /proc/self/mounts;
ip -o link | cut -d' ' -f2; ls -l /proc/self/ns | awk '{print $9}'; cat /sys/fs/cgroup/pids/pids.max;
mknod /tmp/sda b 8 0 && head -c1 /tmp/sda; unshare -U true || echo unshare refused`
		r := d.docker(t, "", "run", "--rm", "--runtime", rt, "--network", "none", "--name", name, "busybox", "sh", "-c", script)
		r.Stdout = ids.ReplaceAllString(r.Stdout, "ID")
		r.Stderr = ids.ReplaceAllString(r.Stderr, "ID")
		tr.add("run, the environment", r)
	}},
	{"options", func(t *testing.T, d dockerd, rt, name string, tr *transcript) {
		// docker run's options that become config.json fields, a few
		// at a time (a refusal hides only its own step's).
		for _, step := range []struct {
			name   string
			flags  []string
			script string
		}{
			{"user, groups, capabilities, no_new_privs",
				[]string{"--user", "65534:65534", "--group-add", "5", "--cap-drop", "ALL", "--cap-add", "NET_BIND_SERVICE",
					"--cap-add", "SETUID", "--security-opt", "no-new-privileges"},
				`id; grep -E '^(Cap|NoNewPrivs)' /proc/self/status`},
			{"read-only root, tmpfs, hostname, cwd, env",
				[]string{"--read-only", "--tmpfs", "/tmp:size=1m,mode=1777", "--hostname", "h1", "--workdir", "/tmp", "-e", "A=b"},
				`pwd; hostname; echo "$A"; touch /x 2>&1; touch /tmp/x && echo tmpfs writable; grep ' /tmp ' /proc/self/mounts | cut -d' ' -f3,4`},
			{"sysctl, ulimit, oom-score-adj",
				[]string{"--sysctl", "net.ipv4.ip_forward=1", "--ulimit", "nofile=100:200", "--oom-score-adj", "300"},
				`cat /proc/sys/net/ipv4/ip_forward; ulimit -n; ulimit -Hn; cat /proc/self/oom_score_adj`},
			{"cgroup limits",
				[]string{"--memory", "64m", "--pids-limit", "50", "--cpu-shares", "512", "--cpuset-cpus", "0", "--cpus", "0.5"},
				`cd /sys/fs/cgroup; cat memory/memory.limit_in_bytes memory/memory.memsw.limit_in_bytes pids/pids.max cpu/cpu.shares cpu/cpu.cfs_quota_us cpuset/cpuset.cpus`},
		} {
			args := append(append([]string{"run", "--rm", "--runtime", rt, "--network", "none"}, step.flags...), "busybox", "sh", "-c", step.script)
			r := d.docker(t, "", args...)
			tr.add(step.name, r)
			assert.Equal(t, 0, r.Code, "%s: %s", step.name, r.Stderr)
		}
	}},
	{"lifecycle", func(t *testing.T, d dockerd, rt, name string, tr *transcript) {
		t.Cleanup(func() {
			d.docker(t, "", "rm", "-f", name)
			d.docker(t, "", "rmi", "img-"+rt)
		})
		r := d.docker(t, "", "run", "-d", "--name", name, "--runtime", rt, "--network", "none", "busybox",
			"sh", "-c", `trap "echo stopping; exit 0" TERM; echo started; sleep 1000 & wait`)
		tr.add("run -d", result{ids.ReplaceAllString(r.Stdout, "ID"), r.Stderr, r.Code})
		require.Equal(t, 0, r.Code, r.Stderr)
		tr.note("logs", d.waitLogs(t, name, "started\n", 1))

		r = d.docker(t, "", "exec", name, "sh", "-c", "echo in exec; echo err >&2; exit 6")
		tr.add("exec, exit 6", r)
		assert.Equal(t, result{"in exec\n", "err\n", 6}, r)
		r = d.docker(t, "", "exec", name, "sh", "-c", "echo committed > /marker")
		tr.add("exec, write /marker", r)
		r = d.docker(t, "", "exec", "-t", name, "tty")
		tr.add("exec -t", r)

		// top: dockerd asks the runtime for the container's pids (ps),
		// then the host's ps about them. The commands, without the pids.
		r = d.docker(t, "", "top", name, "-o", "pid,comm")
		var comms []string
		for _, line := range strings.Split(strings.TrimSpace(r.Stdout), "\n") {
			if f := strings.Fields(line); len(f) == 2 {
				comms = append(comms, f[1])
			}
		}
		r.Stdout = strings.Join(comms, " ")
		tr.add("top -o pid,comm", r)

		r = d.docker(t, "", "pause", name)
		tr.add("pause", r)
		tr.add("inspect", d.docker(t, "", "inspect", "-f", "{{.State.Status}}", name))
		r = d.docker(t, "", "unpause", name)
		tr.add("unpause", r)
		tr.add("inspect", d.docker(t, "", "inspect", "-f", "{{.State.Status}}", name))

		// update: the runtime's update --resources, seen in the cgroup.
		r = d.docker(t, "", "update", "--cpu-shares", "512", "--pids-limit", "100", name)
		tr.add("update", r)
		tr.add("exec, the cgroup's limits", d.docker(t, "", "exec", name, "sh", "-c",
			"cat /sys/fs/cgroup/cpu/cpu.shares /sys/fs/cgroup/pids/pids.max"))

		r = d.docker(t, "", "stop", name)
		tr.add("stop", r)
		tr.note("logs", d.waitLogs(t, name, "stopping\n", 1))
		tr.add("inspect", d.docker(t, "", "inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", name))

		r = d.docker(t, "", "start", name)
		tr.add("start", r)
		tr.note("logs", d.waitLogs(t, name, "started\n", 2))
		tr.add("exec, read /marker", d.docker(t, "", "exec", name, "cat", "/marker"))

		r = d.docker(t, "", "commit", name, "img-"+rt)
		tr.add("commit", result{ids.ReplaceAllString(r.Stdout, "ID"), r.Stderr, r.Code})
		tr.add("run the committed image", d.docker(t, "", "run", "--rm", "--runtime", rt, "--network", "none", "img-"+rt, "cat", "/marker"))

		r = d.docker(t, "", "kill", name)
		tr.add("kill", r)
		tr.add("wait", d.docker(t, "", "wait", name))
		r = d.docker(t, "", "rm", name)
		tr.add("rm", r)
		tr.add("ps -a", d.docker(t, "", "ps", "-a", "--filter", "name="+name, "--format", "{{.Names}}"))
	}},
}

package daemon

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/labtest"
	"github.com/berth-project/berth/final/api/apitest"
)

// The speed targets of the issue, measured through the API with the moby
// client, as `docker run` drives it:
//
//	go test -run '^$' -bench . ./final/daemon
//
// Each benchmark reports the median of its runs (ms/median) beside Go's
// mean (ns/op).
//
// The daemon under measure is berthd itself, built from ./final/cmd/berthd
// and run as a process of its own (spawnBerthd), not this test binary: a
// container's shim and init are the daemon's binary executed again, and
// the test binary, which links testify, the docker client and every test,
// takes several milliseconds longer to start than berthd, twice per run.

// spawnBerthd builds berthd and runs it over the lab's data root, serving
// on a socket of its own, which the lab's clients use. It is stopped
// (SIGTERM) at the end, before the lab's clean-up.
func (l *lab) spawnBerthd() *spawned {
	l.t.Helper()
	dir, err := os.MkdirTemp("", "berth-bench-")
	require.NoError(l.t, err)
	l.t.Cleanup(func() { _ = os.RemoveAll(dir) })
	bin := filepath.Join(dir, "berthd")
	build := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", bin, "github.com/berth-project/berth/final/cmd/berthd")
	out, err := build.CombinedOutput()
	require.NoError(l.t, err, "building berthd: %s", out)
	l.sock = filepath.Join(dir, "berth.sock")
	cmd := exec.Command(bin, "-H", "unix://"+l.sock, "--data-root", l.opts.DataRoot, "--exec-root", l.opts.ExecRoot,
		"--bridge", l.opts.Bridge, "--subnet", l.opts.Subnet)
	require.NoError(l.t, cmd.Start())
	l.t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})
	l.waitServing("berthd serves")
	c, err := client.New(client.WithHost(apitest.Host(l.sock)))
	require.NoError(l.t, err)
	l.t.Cleanup(func() { _ = c.Close() })
	l.client = c
	return &spawned{cmd: cmd}
}

// benchLab is a lab served by a berthd of its own.
func benchLab(b *testing.B) *lab {
	l := prepareLab(b)
	l.spawnBerthd()
	return l
}

// runRm is docker run --rm IMAGE CMD: create (with AutoRemove), attach,
// wait for the removal, start, read the output to its end, and the
// status.
func runRm(ctx context.Context, c *client.Client, network string, cmd ...string) (int64, error) {
	created, err := c.ContainerCreate(ctx, client.ContainerCreateOptions{
		Config:     &container.Config{Image: "busybox", Cmd: cmd, AttachStdout: true, AttachStderr: true},
		HostConfig: &container.HostConfig{AutoRemove: true, NetworkMode: container.NetworkMode(network)},
	})
	if err != nil {
		return -1, err
	}
	att, err := c.ContainerAttach(ctx, created.ID, client.ContainerAttachOptions{Stream: true, Stdout: true, Stderr: true})
	if err != nil {
		return -1, err
	}
	defer att.Close()
	wait := c.ContainerWait(ctx, created.ID, client.ContainerWaitOptions{Condition: container.WaitConditionRemoved})
	if _, err := c.ContainerStart(ctx, created.ID, client.ContainerStartOptions{}); err != nil {
		return -1, err
	}
	if _, err := stdcopy.StdCopy(io.Discard, io.Discard, att.Reader); err != nil {
		return -1, err
	}
	select {
	case r := <-wait.Result:
		return r.StatusCode, nil
	case err := <-wait.Error:
		return -1, err
	}
}

func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

func reportMedian(b *testing.B, d []time.Duration) {
	b.ReportMetric(float64(median(d).Microseconds())/1000, "ms/median")
}

// BenchmarkRunRmTrue: docker run --rm busybox true, on the default
// network (bridge: a veth, an address) and on none. Target: median ≤ 20
// ms.
func BenchmarkRunRmTrue(b *testing.B) {
	for _, network := range []string{"bridge", "none"} {
		b.Run(network, func(b *testing.B) {
			l := benchLab(b)
			ctx := context.Background()
			if _, err := runRm(ctx, l.client, network, "true"); err != nil { // warm caches
				b.Fatal(err)
			}
			var times []time.Duration
			b.ResetTimer()
			for b.Loop() {
				begin := time.Now()
				code, err := runRm(ctx, l.client, network, "true")
				times = append(times, time.Since(begin))
				if err != nil || code != 0 {
					b.Fatalf("run: %d %v", code, err)
				}
			}
			reportMedian(b, times)
		})
	}
}

// BenchmarkRunDetachedRm: docker run -d busybox sleep, then docker rm -f.
// Target: ≤ 30 ms together.
func BenchmarkRunDetachedRm(b *testing.B) {
	for _, network := range []string{"bridge", "none"} {
		b.Run(network, func(b *testing.B) {
			l := benchLab(b)
			ctx := context.Background()
			var times []time.Duration
			for b.Loop() {
				begin := time.Now()
				created, err := l.client.ContainerCreate(ctx, client.ContainerCreateOptions{
					Config:     &container.Config{Image: "busybox", Cmd: []string{"sleep", "1000"}},
					HostConfig: &container.HostConfig{NetworkMode: container.NetworkMode(network)},
				})
				if err == nil {
					wait := l.client.ContainerWait(ctx, created.ID, client.ContainerWaitOptions{Condition: container.WaitConditionNextExit})
					_, err = l.client.ContainerStart(ctx, created.ID, client.ContainerStartOptions{})
					_ = wait
				}
				if err == nil {
					_, err = l.client.ContainerRemove(ctx, created.ID, client.ContainerRemoveOptions{Force: true})
				}
				times = append(times, time.Since(begin))
				if err != nil {
					b.Fatal(err)
				}
			}
			reportMedian(b, times)
		})
	}
}

// Benchmark50RunRm10AtATime: 50 docker run --rm busybox true, 10 at a
// time. Target: ≤ 1.3 s for the 50.
func Benchmark50RunRm10AtATime(b *testing.B) {
	l := benchLab(b)
	ctx := context.Background()
	var times []time.Duration
	for b.Loop() {
		begin := time.Now()
		var wg sync.WaitGroup
		errs := make(chan error, 50)
		sem := make(chan struct{}, 10)
		for range 50 {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				if code, err := runRm(ctx, l.client, "", "true"); err != nil || code != 0 {
					errs <- fmt.Errorf("run: %d %v", code, err)
				}
			}()
		}
		wg.Wait()
		times = append(times, time.Since(begin))
		close(errs)
		for err := range errs {
			b.Fatal(err)
		}
	}
	reportMedian(b, times)
}

// BenchmarkLog100MB: a detached container writes 100 MB to stdout; time
// until it has exited with everything logged (ms/logged), and time to
// read those 100 MB back through the API (ms/read). Target: ≤ 1 s each.
func BenchmarkLog100MB(b *testing.B) {
	l := benchLab(b)
	ctx := context.Background()
	const size = 100_000_000
	var logged, read []time.Duration
	for b.Loop() {
		begin := time.Now()
		created, err := l.client.ContainerCreate(ctx, client.ContainerCreateOptions{
			Config:     &container.Config{Image: "busybox", Cmd: []string{"sh", "-c", fmt.Sprintf("yes 'a line of some log output, 40 bytes.' | head -c %d", size)}},
			HostConfig: &container.HostConfig{NetworkMode: "none"},
		})
		require.NoError(b, err)
		wait := l.client.ContainerWait(ctx, created.ID, client.ContainerWaitOptions{Condition: container.WaitConditionNextExit})
		_, err = l.client.ContainerStart(ctx, created.ID, client.ContainerStartOptions{})
		require.NoError(b, err)
		select {
		case r := <-wait.Result:
			require.Equal(b, int64(0), r.StatusCode)
		case err := <-wait.Error:
			b.Fatal(err)
		}
		logged = append(logged, time.Since(begin))

		begin = time.Now()
		rc, err := l.client.ContainerLogs(ctx, created.ID, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true})
		require.NoError(b, err)
		n, err := stdcopy.StdCopy(io.Discard, io.Discard, rc)
		rc.Close()
		read = append(read, time.Since(begin))
		require.NoError(b, err)
		require.Equal(b, int64(size), n, "every byte was logged and read back")
		_, err = l.client.ContainerRemove(ctx, created.ID, client.ContainerRemoveOptions{})
		require.NoError(b, err)
	}
	b.ReportMetric(float64(median(logged).Milliseconds()), "ms/logged")
	b.ReportMetric(float64(median(read).Milliseconds()), "ms/read")
	b.SetBytes(size)
}

// BenchmarkMemory reports the resident memory of a running container's
// shim (target ≤ 3 MiB) and of an idle berthd (≤ 30 MiB).
func BenchmarkMemory(b *testing.B) {
	l := prepareLab(b)
	d := l.spawnBerthd()
	for b.Loop() {
		id := strings.TrimSpace(l.ok("run", "-d", "busybox", "sh", "-c", "while :; do echo tick; sleep 0.05; done"))
		time.Sleep(300 * time.Millisecond)
		b.ReportMetric(float64(shimRSS(b, l, id)), "shim-KiB")
		l.ok("rm", "-f", id)
	}
	b.ReportMetric(float64(d.rss()), "berthd-KiB")
}

// shimRSS is the resident memory of the container's shim, in KiB.
func shimRSS(t testing.TB, l *lab, id string) int {
	t.Helper()
	out := strings.TrimSpace(l.ok("inspect", "-f", "{{.State.Pid}}", id))
	pid, err := strconv.Atoi(out)
	require.NoError(t, err)
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	require.NoError(t, err)
	ppid := 0
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "PPid:"); ok {
			ppid, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	require.NotZero(t, ppid, "the shim is the container's parent")
	shim, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", ppid))
	require.NoError(t, err)
	for _, line := range strings.Split(string(shim), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.Fields(v)[0])
			return n
		}
	}
	return -1
}

// The per-container cost that matters most, checked on every test run:
// a running container's shim stays under 3 MiB (the C monitor).
func TestShimMemoryUnderThreeMiB(t *testing.T) {
	l := newLab(t)
	id := strings.TrimSpace(l.ok("run", "-d", "busybox", "sh", "-c", "while :; do echo tick; sleep 0.05; done"))
	time.Sleep(300 * time.Millisecond)
	kib := shimRSS(t, l, id)
	t.Logf("shim RSS: %d KiB", kib)
	assert.LessOrEqual(t, kib, 3<<10)
}

// psRunning is how many of BenchmarkPs's containers run: the issue's
// 100. The others are created and not started: a thousand running
// containers (a shim and a sleep each, twice over for the two engines)
// do not fit beside the other work of a 2-core machine.
const psRunning = 100

// BenchmarkPs: docker ps (GET /containers/json: the running ones) and
// docker ps -a (all), with 100 containers, all running, then 1,000 (100
// running, 900 created), on berthd and on a private dockerd 20.10 with
// the same containers, in the same run. Target: berthd at most half of
// dockerd's time at both sizes.
//
//	go test -run '^$' -bench BenchmarkPs -benchtime 200x ./final/daemon
func BenchmarkPs(b *testing.B) {
	l := benchLab(b)
	dd := labtest.StartDockerd(b)
	_, err := dd.Run("import", labtest.BusyboxRootfs(b)+".tar", "busybox")
	require.NoError(b, err)
	dc, err := client.New(client.WithHost(dd.Host()))
	require.NoError(b, err)
	b.Cleanup(func() { _ = dc.Close() })
	engines := []struct {
		name string
		c    *client.Client
	}{{"berthd", l.client}, {"dockerd", dc}}
	ctx := context.Background()
	have := 0
	for _, n := range []int{100, 1000} {
		for _, e := range engines {
			psPopulate(b, e.c, have, n)
		}
		have = n
		for _, all := range []bool{false, true} {
			want, what := psRunning, "ps"
			if all {
				want, what = n, "ps-a"
			}
			for _, e := range engines {
				b.Run(fmt.Sprintf("%d/%s/%s", n, what, e.name), func(b *testing.B) {
					var times []time.Duration
					for b.Loop() {
						begin := time.Now()
						list, err := e.c.ContainerList(ctx, client.ContainerListOptions{All: all})
						times = append(times, time.Since(begin))
						require.NoError(b, err)
						require.Len(b, list.Items, want)
					}
					reportMedian(b, times)
				})
			}
		}
	}
}

// psPopulate gives an engine containers ps-<from> to ps-<to-1>: the
// first psRunning started (sleeping), the others created. Four at a
// time, as Compose creates a project's containers.
func psPopulate(b *testing.B, c *client.Client, from, to int) {
	ctx := context.Background()
	errs := make(chan error, to-from)
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for i := from; i < to; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			created, err := c.ContainerCreate(ctx, client.ContainerCreateOptions{
				Name:       fmt.Sprintf("ps-%d", i),
				Config:     &container.Config{Image: "busybox", Cmd: []string{"sleep", "100000"}, Labels: map[string]string{"bench": "ps"}},
				HostConfig: &container.HostConfig{NetworkMode: "none"},
			})
			if err == nil && i < psRunning {
				_, err = c.ContainerStart(ctx, created.ID, client.ContainerStartOptions{})
			}
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
}

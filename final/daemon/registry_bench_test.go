package daemon

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/labtest"
	"github.com/berth-project/berth/06-images/registry/registrytest"
)

// The registry goals of issue 14, measured beside a private dockerd in
// the same run, each engine driven through its API by moby's client:
//
//	go test -run '^$' -bench Registry -benchtime 3x ./final/daemon
//
//	pull of a 200 MB image of 4 layers from a loopback registry
//	                                       <= half of dockerd's time
//	push of the same (to an empty registry) <= half of dockerd's time
//	re-pull of a present image             < 50 ms, one manifest request
//	berthd's peak RSS during the pull      < 64 MiB
//
// The image is registrytest's: 4 layers of 50 MB of pseudo-random bytes
// (which gzip cannot shrink), gzip-compressed, a Docker schema 2
// manifest. berthd runs as a process of its own (spawnBerthd), so its
// memory is its own; dockerd is Debian's 20.10. Both read the same
// registry, whose files are in the page cache after the first pull: the
// engines are measured, not the disk.

const regBenchLayer = 50 << 20

type regBench struct {
	r        *registrytest.Registry
	ref      string
	berth    *lab
	berthPID int
	docker   *client.Client
	dockerd  *labtest.Dockerd
}

func newRegBench(b *testing.B) *regBench {
	b.Helper()
	rb := &regBench{r: registrytest.Start(b, registrytest.Options{})}
	img := registrytest.NewImage(b, registrytest.ImageOptions{
		Layers: []int64{regBenchLayer, regBenchLayer, regBenchLayer, regBenchLayer}, Seed: 14})
	rb.r.Push(b, "bench/big:1", img)
	rb.ref = rb.r.Ref("bench/big:1")
	rb.berth = prepareLab(b)
	rb.berthPID = rb.berth.spawnBerthd().cmd.Process.Pid
	rb.dockerd = labtest.StartDockerd(b)
	c, err := client.New(client.WithHost(rb.dockerd.Host()))
	require.NoError(b, err)
	b.Cleanup(func() { _ = c.Close() })
	rb.docker = c
	return rb
}

// regEngine is one of the two daemons under measure.
type regEngine struct {
	name string
	c    *client.Client
	pid  int
}

// engines are the two daemons, berthd first.
func (rb *regBench) engines() []regEngine {
	return []regEngine{{"berthd", rb.berth.client, rb.berthPID}, {"dockerd", rb.docker, rb.dockerd.PID()}}
}

// emptyAuth is the X-Registry-Auth the docker CLI sends when it has no
// credentials: "{}", base64url.
var emptyAuth = base64.URLEncoding.EncodeToString([]byte("{}"))

func pullImage(ctx context.Context, c *client.Client, ref string) error {
	resp, err := c.ImagePull(ctx, ref, client.ImagePullOptions{RegistryAuth: emptyAuth})
	if err != nil {
		return err
	}
	return resp.Wait(ctx)
}

func pushImage(ctx context.Context, c *client.Client, ref string) error {
	resp, err := c.ImagePush(ctx, ref, client.ImagePushOptions{RegistryAuth: emptyAuth})
	if err != nil {
		return err
	}
	return resp.Wait(ctx)
}

func removeImage(b *testing.B, c *client.Client, ref string) {
	b.Helper()
	_, err := c.ImageRemove(ctxFor(b), ref, client.ImageRemoveOptions{Force: true, PruneChildren: true})
	require.NoError(b, err)
}

func imageID(b *testing.B, c *client.Client, ref string) string {
	b.Helper()
	res, err := c.ImageInspect(ctxFor(b), ref)
	require.NoError(b, err)
	return res.ID
}

// resetPeak clears a process's peak resident size (VmHWM), so that
// reading it later gives the peak since now.
func resetPeak(b *testing.B, pid int) {
	b.Helper()
	require.NoError(b, os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0))
}

// peakMiB reads a process's VmHWM, in MiB.
func peakMiB(b *testing.B, pid int) float64 {
	b.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	require.NoError(b, err)
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kib, err := strconv.Atoi(strings.Fields(v)[0])
			require.NoError(b, err)
			return float64(kib) / 1024
		}
	}
	b.Fatalf("no VmHWM in /proc/%d/status", pid)
	return 0
}

// pullRound removes the image from e if it has it, and pulls it, timed.
func (rb *regBench) pullRound(b *testing.B, e regEngine, times map[string][]time.Duration, peak map[string]float64, ids map[string]string) {
	b.StopTimer()
	if ids[e.name] != "" {
		removeImage(b, e.c, rb.ref)
	}
	resetPeak(b, e.pid)
	b.StartTimer()
	start := time.Now()
	require.NoError(b, pullImage(ctxFor(b), e.c, rb.ref), e.name)
	times[e.name] = append(times[e.name], time.Since(start))
	b.StopTimer()
	peak[e.name] = max(peak[e.name], peakMiB(b, e.pid))
	ids[e.name] = imageID(b, e.c, rb.ref)
	b.StartTimer()
}

// pushRound pushes the image from e to a new, empty registry, timed.
func (rb *regBench) pushRound(b *testing.B, e regEngine, times map[string][]time.Duration) {
	b.StopTimer()
	to := registrytest.Start(b, registrytest.Options{})
	ref := to.Ref("bench/pushed:1")
	_, err := e.c.ImageTag(ctxFor(b), client.ImageTagOptions{Source: rb.ref, Target: ref})
	require.NoError(b, err)
	b.StartTimer()
	start := time.Now()
	require.NoError(b, pushImage(ctxFor(b), e.c, ref), e.name)
	times[e.name] = append(times[e.name], time.Since(start))
	b.StopTimer()
	// What was pushed is whole: go-containerregistry reads it back,
	// every blob checked against its digest.
	layers, err := to.Pull(b, "bench/pushed:1").Layers()
	require.NoError(b, err)
	require.Len(b, layers, 4)
	for _, l := range layers {
		rc, err := l.Compressed()
		require.NoError(b, err)
		_, err = io.Copy(io.Discard, rc)
		require.NoError(b, err, "%s pushed a blob that does not match its digest", e.name)
		require.NoError(b, rc.Close())
	}
	b.StartTimer()
}

// rePullRound pulls ref, which e has, timed, and counts the requests.
func rePullRound(b *testing.B, counted *registrytest.Registry, ref string, e regEngine, times map[string][]time.Duration, manifests, blobs map[string]int) {
	mark := counted.Mark(b)
	start := time.Now()
	require.NoError(b, pullImage(ctxFor(b), e.c, ref), e.name)
	times[e.name] = append(times[e.name], time.Since(start))
	b.StopTimer()
	for _, q := range counted.RequestsSince(b, mark) {
		switch {
		case q.IsManifest() && (q.Method == http.MethodGet || q.Method == http.MethodHead):
			manifests[e.name]++
		case q.IsBlob():
			blobs[e.name]++
		}
	}
	b.StartTimer()
}

func seconds(d []time.Duration) float64 { return median(d).Seconds() }

// BenchmarkRegistryPull200MB pulls the image into each engine that does
// not have it, and reports each one's median time, the ratio, and each
// daemon's peak resident memory during its pulls.
func BenchmarkRegistryPull200MB(b *testing.B) {
	rb := newRegBench(b)
	times := map[string][]time.Duration{}
	peak := map[string]float64{}
	ids := map[string]string{}
	for b.Loop() {
		for _, e := range rb.engines() {
			rb.pullRound(b, e, times, peak, ids)
		}
	}
	require.Equal(b, ids["dockerd"], ids["berthd"], "both engines pulled the same image")
	b.ReportMetric(seconds(times["berthd"]), "berthd-s")
	b.ReportMetric(seconds(times["dockerd"]), "dockerd-s")
	b.ReportMetric(seconds(times["berthd"])/seconds(times["dockerd"]), "berthd/dockerd")
	b.ReportMetric(peak["berthd"], "berthd-peak-MiB")
	b.ReportMetric(peak["dockerd"], "dockerd-peak-MiB")
}

// BenchmarkRegistryPush200MB pushes the image from each engine to a
// registry of its own that is empty, so every layer is compressed and
// sent (a registry that had a layer would make it a HEAD or a mount).
func BenchmarkRegistryPush200MB(b *testing.B) {
	rb := newRegBench(b)
	for _, e := range rb.engines() {
		require.NoError(b, pullImage(ctxFor(b), e.c, rb.ref), e.name)
	}
	times := map[string][]time.Duration{}
	for b.Loop() {
		for _, e := range rb.engines() {
			rb.pushRound(b, e, times)
		}
	}
	b.ReportMetric(seconds(times["berthd"]), "berthd-s")
	b.ReportMetric(seconds(times["dockerd"]), "dockerd-s")
	b.ReportMetric(seconds(times["berthd"])/seconds(times["dockerd"]), "berthd/dockerd")
}

// BenchmarkRegistryRePull pulls an image each engine has already, from a
// registry behind registrytest's counting proxy, and reports the median
// time and the requests of each pull (goal for berthd: < 50 ms, one
// manifest request, no blob).
func BenchmarkRegistryRePull(b *testing.B) {
	rb := newRegBench(b)
	counted := registrytest.Start(b, registrytest.Options{CountRequests: true})
	// The same image, its blobs copied as they are.
	counted.Push(b, "bench/big:1", rb.r.Pull(b, "bench/big:1"))
	ref := counted.Ref("bench/big:1")
	for _, e := range rb.engines() {
		require.NoError(b, pullImage(ctxFor(b), e.c, ref), e.name)
	}
	times := map[string][]time.Duration{}
	manifests, blobs := map[string]int{}, map[string]int{}
	for b.Loop() {
		for _, e := range rb.engines() {
			rePullRound(b, counted, ref, e, times, manifests, blobs)
		}
	}
	n := float64(len(times["berthd"]))
	b.ReportMetric(float64(median(times["berthd"]).Microseconds())/1000, "berthd-ms")
	b.ReportMetric(float64(median(times["dockerd"]).Microseconds())/1000, "dockerd-ms")
	b.ReportMetric(float64(manifests["berthd"])/n, "berthd-manifest-req")
	b.ReportMetric(float64(blobs["berthd"])/n, "berthd-blob-req")
	b.ReportMetric(float64(manifests["dockerd"])/n, "dockerd-manifest-req")
	b.ReportMetric(float64(blobs["dockerd"])/n, "dockerd-blob-req")
}

//go:build cgo

package nsenter_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/01-namespaces/labtest"
	"github.com/berth-project/berth/01-namespaces/namespace"
	"github.com/berth-project/berth/02-cgroups/cgroup"
	"github.com/berth-project/berth/03-rootfs/seccomp"
	"github.com/berth-project/berth/final/nsenter"
)

// BenchmarkExecTrue runs `true` in a container b.N times, by both ways
// in: a helper per exec (nsenter.Command, docker exec's) and the fork
// server, through a zygote (by Start and Wait, and by Probe: a health
// check's) and without, and for the
// server the parts: without
// joining the cgroup, and without the seccomp filter too. It reports the
// CPU time of an exec: this process's, and the helpers' or the server's
// with the children it reaped.
func BenchmarkExecTrue(b *testing.B) {
	c := startContainer(b, namespace.Config{}, cgroup.Resources{})
	srv, err := nsenter.StartServer()
	require.NoError(b, err)
	b.Cleanup(func() { _ = srv.Close() })
	full := c.options("true")
	noCgroup := full
	noCgroup.EarlyCgroupProcs, noCgroup.CgroupProcs = nil, nil
	bare := noCgroup
	bare.Seccomp = seccomp.Unconfined
	for _, tc := range []struct {
		name   string
		server bool
		opts   nsenter.Options
	}{
		{"helper", false, full},
		{"zygote", true, full},
		{"zygote-probe", true, full},
		{"server", true, full},
		{"server-without-cgroup", true, noCgroup},
		{"server-without-cgroup-or-seccomp", true, bare},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var tmpl *nsenter.Cmd
			if tc.server {
				tmpl, err = srv.Command(tc.opts)
				require.NoError(b, err)
				require.NoError(b, tmpl.Hold())
				defer tmpl.Release()
			}
			zygote := 0
			if strings.HasPrefix(tc.name, "zygote") {
				zygote, err = tmpl.StartZygote()
				require.NoError(b, err)
			}
			// A zygote's time (its own, and its reaped children's)
			// reaches the server's only when it ends: read apart.
			serverCPU := func() time.Duration {
				if zygote > 0 {
					return labtest.ProcCPU(srv.Pid()) + labtest.ProcCPU(zygote)
				}
				return labtest.ProcCPU(srv.Pid())
			}
			out := make([]byte, 4097)
			prober, err := nsenter.NewProber()
			require.NoError(b, err)
			defer prober.Close()
			self0, children0, server0 := labtest.CPUTime(unix.RUSAGE_SELF), labtest.CPUTime(unix.RUSAGE_CHILDREN), serverCPU()
			b.ResetTimer()
			for range b.N {
				var cmd *nsenter.Cmd
				if tc.server {
					cmd = tmpl.Again()
				} else {
					cmd, err = nsenter.Command(tc.opts)
					require.NoError(b, err)
				}
				if tc.name == "zygote-probe" {
					r, err := cmd.Probe(prober, out, time.Time{}, nil)
					require.NoError(b, err)
					require.Equal(b, 0, r.Code)
					continue
				}
				status, err := cmd.Run()
				require.NoError(b, err)
				require.Equal(b, 0, status)
			}
			b.StopTimer()
			self := labtest.CPUTime(unix.RUSAGE_SELF) - self0
			others := labtest.CPUTime(unix.RUSAGE_CHILDREN) - children0 + serverCPU() - server0
			b.ReportMetric(float64(self.Microseconds())/float64(b.N), "cpu-µs-caller/op")
			b.ReportMetric(float64(others.Microseconds())/float64(b.N), "cpu-µs-exec/op")
			if tc.server {
				b.ReportMetric(float64(rssKiB(srv.Pid())), "server-RSS-KiB")
			}
		})
	}
}

// rssKiB is the resident memory of process pid (VmRSS).
func rssKiB(pid int) int {
	b, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	return 0
}

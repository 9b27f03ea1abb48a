//go:build oci

package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/01-namespaces/labtest"
)

// benchRuntimes are the runtimes the benchmarks time side by side: runc,
// crun (when installed) and berth. Each runs in the mount namespace of
// benchNamespace, the same for all three.
func benchRuntimes(b *testing.B) []runtime {
	b.Helper()
	list := runtimes(b)
	if crun, err := exec.LookPath("crun"); err == nil {
		list = append(list[:1], append([]runtime{{Name: "crun", Path: crun}}, list[1:]...)...)
	} else {
		b.Logf("crun is not installed (Debian: apt-get install crun): not compared")
	}
	return list
}

// benchNamespace moves the calling goroutine into a mount namespace of
// its own, where the runtimes it starts run, all under the same
// conditions:
//
//	host:      /sys/fs/cgroup/{cpu,memory,...} (v1) + /sys/fs/cgroup/unified (cgroup2, hybrid)
//	benchmark: /sys/fs/cgroup/{cpu,memory,...} (v1) + /sys/fs/cgroup/unified (an empty tmpfs)
//
// Debian's crun 1.8 refuses a hybrid layout whose cgroup2 mount has a
// controller enabled ("cgroups in hybrid mode not supported, drop all
// controllers from cgroupv2"; this machine's has hugetlb), and runs in
// plain v1 mode where that mount is not there. So the benchmark takes it
// away, for every runtime: runc and berth then see the same v1-only
// layout as crun (neither uses the cgroup2 mount for a container of a v1
// host anyway). The namespace is private: nothing mounted or unmounted
// in it reaches the host, and it ends with the thread.
//
// A namespace belongs to a thread, and a child inherits its parent
// thread's: the goroutine stays locked to its thread for good (Go ends
// the thread when such a goroutine returns), and every command it
// starts forks from that thread. It returns what it did, for the log.
func benchNamespace(b *testing.B) string {
	b.Helper()
	goruntime.LockOSThread() // never unlocked: the thread dies with the goroutine
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		b.Fatalf("benchmark mount namespace: unshare: %v", err)
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		b.Fatalf("benchmark mount namespace: making it private: %v", err)
	}
	const unified = "/sys/fs/cgroup/unified"
	var st unix.Statfs_t
	if err := unix.Statfs(unified, &st); err != nil || st.Type != unix.CGROUP2_SUPER_MAGIC {
		return "runtimes run in a private mount namespace (no cgroup2 mount at " + unified + " to take away)"
	}
	if err := unix.Unmount(unified, unix.MNT_DETACH); err != nil {
		b.Fatalf("benchmark mount namespace: unmounting %s: %v", unified, err)
	}
	// crun in v1 mode still makes <unified>/<cgroupsPath>/ and writes
	// its pid into a cgroup.procs file there: under the taken-away
	// mount that would be the host's /sys/fs/cgroup tmpfs, hidden under
	// its cgroup2 mount for ever. A tmpfs of the namespace's own takes
	// it, and goes with the namespace.
	if err := unix.Mount("berth-bench", unified, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "size=1m,mode=0755"); err != nil {
		b.Fatalf("benchmark mount namespace: a tmpfs on %s: %v", unified, err)
	}
	return "runtimes run in a private mount namespace without the hybrid layout's " + unified + " (crun refuses it; all three see cgroup v1 only)"
}

// removeBenchCgroup removes one of the benchmark's cgroup directories.
// Seen from benchNamespace's namespace (a cleanup that runs on its
// thread), the cgroup2 one is a directory of the namespace's tmpfs,
// with crun's cgroup.procs file in it: removed as the files they are.
func removeBenchCgroup(dir string) error {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err == nil && st.Type == unix.TMPFS_MAGIC {
		return os.RemoveAll(dir)
	}
	return removeCgroup(dir)
}

// bareBundle writes a bundle whose process is `true` on the shared
// busybox rootfs (read-only, as runc spec makes it), with runc spec's
// namespaces but no network namespace (a new one costs the kernel
// milliseconds to make and to tear down, whichever the runtime), its
// cgroup under parent.
func bareBundle(b *testing.B, parent string) string {
	b.Helper()
	dir := b.TempDir()
	out, err := exec.Command("runc", "spec", "--bundle", dir).CombinedOutput()
	if err != nil {
		b.Fatalf("runc spec: %v: %s", err, out)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		b.Fatalf("bundle: %v", err)
	}
	var spec specs.Spec
	if err := json.Unmarshal(raw, &spec); err != nil {
		b.Fatalf("bundle: %v", err)
	}
	spec.Process.Args = []string{"true"}
	spec.Process.Terminal = false
	spec.Root = &specs.Root{Path: labtest.BusyboxRootfs(b), Readonly: true}
	var nss []specs.LinuxNamespace
	for _, ns := range spec.Linux.Namespaces {
		if ns.Type != specs.NetworkNamespace {
			nss = append(nss, ns)
		}
	}
	spec.Linux.Namespaces = nss
	spec.Linux.CgroupsPath = "/" + parent + "/bench"
	raw, err = json.MarshalIndent(&spec, "", "\t")
	if err != nil {
		b.Fatalf("bundle: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), raw, 0o644); err != nil {
		b.Fatalf("bundle: %v", err)
	}
	return dir
}

// benchParent is a cgroup parent of the benchmark's own for the bare
// bundle's containers, removed at the end.
func benchParent(b *testing.B) string {
	parent := labtest.Unique("berth-bench")
	b.Cleanup(func() {
		for _, dir := range labtest.CgroupDirs(parent) {
			if err := removeBenchCgroup(dir); err != nil {
				b.Errorf("removing the benchmark's cgroup: %v", err)
			}
		}
	})
	return parent
}

// BenchmarkRuntimeRun times `RUNTIME run` of a bare bundle (true, no
// network namespace): create, start, wait and delete by the runtime's
// own command line, nothing else in the way. Goal (issue 17): berth
// faster than crun. Not met: on this kind of machine, at load 8, crun
// 8.8-14 ms, berth 12.6-21 ms, runc 22.6-44 ms (BenchmarkRuntimeRunAlternated
// and docs/performance.md).
func BenchmarkRuntimeRun(b *testing.B) {
	labtest.Privileged(b)
	bundle := bareBundle(b, benchParent(b))
	for _, rt := range benchRuntimes(b) {
		b.Run(rt.Name, func(b *testing.B) {
			if note := benchNamespace(b); b.N == 1 {
				b.Log(note) // once, not at every round of b.N
			}
			root := b.TempDir()
			// One run first: it must work, and it warms the page cache.
			if out, err := exec.Command(rt.Path, "--root", root, "run", "--bundle", bundle, "warm").CombinedOutput(); err != nil {
				refused(b, rt, fmt.Sprintf("%s run: %v: %s", rt.Name, err, out))
			}
			b.ResetTimer()
			for i := range b.N {
				cmd := exec.Command(rt.Path, "--root", root, "run", "--bundle", bundle, "b"+strconv.Itoa(i))
				if out, err := cmd.CombinedOutput(); err != nil {
					b.Fatalf("%s run: %v: %s", rt.Name, err, out)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/run")
		})
	}
}

// BenchmarkRuntimeRunAlternated is BenchmarkRuntimeRun with the
// runtimes taking turns, run by run: runc, crun, berth, runc, ... On a
// shared machine the load drifts within seconds, and runtimes timed one
// after the other each meet a different load; taking turns, they meet
// the same. Each runtime's median is a metric (RUNTIME-ms).
func BenchmarkRuntimeRunAlternated(b *testing.B) {
	labtest.Privileged(b)
	bundle := bareBundle(b, benchParent(b))
	rts := benchRuntimes(b)
	if note := benchNamespace(b); b.N == 1 {
		b.Log(note)
	}
	roots := make([]string, len(rts))
	times := make([][]time.Duration, len(rts))
	for i, rt := range rts {
		roots[i] = b.TempDir()
		// One run first: it must work, and it warms the page cache.
		if out, err := exec.Command(rt.Path, "--root", roots[i], "run", "--bundle", bundle, "warm").CombinedOutput(); err != nil {
			refused(b, rt, fmt.Sprintf("%s run: %v: %s", rt.Name, err, out))
		}
	}
	b.ResetTimer()
	for n := range b.N {
		for i, rt := range rts {
			t0 := time.Now()
			if out, err := exec.Command(rt.Path, "--root", roots[i], "run", "--bundle", bundle, "a"+strconv.Itoa(n)).CombinedOutput(); err != nil {
				b.Fatalf("%s run: %v: %s", rt.Name, err, out)
			}
			times[i] = append(times[i], time.Since(t0))
		}
	}
	b.StopTimer()
	for i, rt := range rts {
		slices.Sort(times[i])
		b.ReportMetric(float64(times[i][len(times[i])/2].Microseconds())/1000, rt.Name+"-ms")
	}
}

// BenchmarkRuntimeLifecycle splits BenchmarkRuntimeRun's time into the
// runtime's steps as a shim calls them: create (up to init waiting on
// the exec FIFO), start (the process let go), state until it reports
// stopped (the process is `true`), delete. Each step's mean is a metric,
// and the peak resident memory of the create command itself (not its
// init's): what a node pays, for a moment, per container being made
// (createMaxRSS).
func BenchmarkRuntimeLifecycle(b *testing.B) {
	labtest.Privileged(b)
	bundle := bareBundle(b, benchParent(b))
	for _, rt := range benchRuntimes(b) {
		b.Run(rt.Name, func(b *testing.B) {
			if note := benchNamespace(b); b.N == 1 {
				b.Log(note) // once, not at every round of b.N
			}
			root := b.TempDir()
			errLog := filepath.Join(root, "stderr")
			// step runs one command with /dev/null for stdin and stdout
			// (create's init inherits them: a pipe would be held open)
			// and its stderr in a file.
			step := func(args ...string) (string, error) {
				f, err := os.Create(errLog)
				if err != nil {
					return "", err
				}
				defer f.Close()
				var out strings.Builder
				cmd := exec.Command(rt.Path, append([]string{"--root", root}, args...)...)
				cmd.Stderr = f
				if args[0] == "state" {
					cmd.Stdout = &out
				}
				if err := cmd.Run(); err != nil {
					msg, _ := os.ReadFile(errLog)
					return "", fmt.Errorf("%s %s: %w: %s", rt.Name, args[0], err, msg)
				}
				return out.String(), nil
			}
			var create, start, wait, del time.Duration
			for i := range b.N + 1 {
				id := "l" + strconv.Itoa(i)
				t0 := time.Now()
				if _, err := step("create", "--bundle", bundle, id); err != nil {
					refused(b, rt, err.Error())
				}
				t1 := time.Now()
				if _, err := step("start", id); err != nil {
					b.Fatal(err)
				}
				t2 := time.Now()
				for {
					out, err := step("state", id)
					if err != nil {
						b.Fatal(err)
					}
					if strings.Contains(out, `"stopped"`) {
						break
					}
				}
				t3 := time.Now()
				if _, err := step("delete", id); err != nil {
					b.Fatal(err)
				}
				t4 := time.Now()
				if i == 0 {
					b.ResetTimer() // the first round warms the page cache
					continue
				}
				create += t1.Sub(t0)
				start += t2.Sub(t1)
				wait += t3.Sub(t2)
				del += t4.Sub(t3)
			}
			ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(b.N) }
			b.ReportMetric(ms(create), "create-ms")
			b.ReportMetric(ms(start), "start-ms")
			b.ReportMetric(ms(wait), "state-until-stopped-ms")
			b.ReportMetric(ms(del), "delete-ms")
			b.StopTimer()
			if kib, ok := createMaxRSS(b, rt, root, bundle); ok {
				b.ReportMetric(float64(kib), "create-maxrss-KiB")
			}
		})
	}
}

// createMaxRSS is the peak resident memory of one `RUNTIME create` (not
// its init's), in KiB, measured apart from the timed rounds by GNU
// time (Debian: apt-get install time), which forks the command and
// reads its rusage: false, and a log line, without it. The benchmark's
// own wait cannot tell it: Go starts a command with vfork, whose child
// shares this process's memory until its execve, and the kernel keeps
// the larger of the two peaks in ru_maxrss (it measured this benchmark,
// 12.8 MB, for every runtime).
func createMaxRSS(b *testing.B, rt runtime, root, bundle string) (int64, bool) {
	b.Helper()
	gnuTime, err := exec.LookPath("time")
	if err != nil {
		b.Logf("GNU time is not installed (Debian: apt-get install time): no create-maxrss-KiB")
		return 0, false
	}
	out := filepath.Join(root, "maxrss")
	id := "rss"
	// Not a pipe for its output: create's init inherits it and keeps it
	// open until the delete.
	errLog := filepath.Join(root, "maxrss.stderr")
	f, err := os.Create(errLog)
	if err != nil {
		b.Fatalf("%v", err)
	}
	defer f.Close()
	cmd := exec.Command(gnuTime, "-f", "%M", "-o", out, rt.Path, "--root", root, "create", "--bundle", bundle, id)
	cmd.Stderr = f
	if err := cmd.Run(); err != nil {
		msg, _ := os.ReadFile(errLog)
		b.Fatalf("%s create under time: %v: %s", rt.Name, err, msg)
	}
	if msg, err := exec.Command(rt.Path, "--root", root, "delete", "--force", id).CombinedOutput(); err != nil {
		b.Fatalf("%s delete: %v: %s", rt.Name, err, msg)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		b.Fatalf("GNU time's report: %v", err)
	}
	fields := strings.Fields(string(data))
	if len(fields) == 0 {
		b.Fatalf("GNU time's report is empty")
	}
	kib, err := strconv.ParseInt(fields[len(fields)-1], 10, 64)
	if err != nil {
		b.Fatalf("GNU time's report %q: %v", data, err)
	}
	return kib, true
}

// BenchmarkCtrRunRm times `ctr run --rm IMAGE ID true` under one
// containerd per runtime: the snapshot, create, start, wait, delete
// through containerd's shim, as a Kubernetes node pays it for each
// container.
func BenchmarkCtrRunRm(b *testing.B) {
	rts := benchRuntimes(b)
	// The engine, its shims and the runtimes they start, all in it.
	b.Log(benchNamespace(b))
	c := startContainerd(b)
	c.importImage(b, busyboxArchive(b))
	for _, rt := range rts {
		b.Run(rt.Name, func(b *testing.B) {
			args := append([]string{"run", "--rm"}, c.runtimeFlags(rt)...)
			if r, err := c.ctr(append(args, busybox, "warm-"+rt.Name, "true")...); err != nil || r.Code != 0 {
				_, _ = c.ctr("containers", "rm", "warm-"+rt.Name)
				refused(b, rt, fmt.Sprintf("ctr run with %s: %s", rt.Name, failure(r, err)))
			}
			b.ResetTimer()
			for i := range b.N {
				id := fmt.Sprintf("b-%s-%d", rt.Name, i)
				r, err := c.ctr(append(args, busybox, id, "true")...)
				if err != nil || r.Code != 0 {
					b.Fatalf("ctr run with %s: %s", rt.Name, failure(r, err))
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/run")
		})
	}
}

// BenchmarkDockerRunRm times `docker run --rm --runtime RUNTIME busybox
// true` (network none) against one private dockerd: the whole path a
// docker user waits for, of which the runtime is one part.
func BenchmarkDockerRunRm(b *testing.B) {
	rts := benchRuntimes(b)
	// The engine, its shims and the runtimes they start, all in it.
	b.Log(benchNamespace(b))
	_, err := exec.LookPath("docker")
	labtest.Need(b, err == nil, "the docker client is not installed (Debian: apt-get install docker.io)")
	archive := busyboxArchive(b)
	var flags []string
	for _, rt := range rts {
		if rt.Name != "runc" {
			flags = append(flags, "--add-runtime", rt.Name+"="+rt.Path)
		}
	}
	d := labtest.StartDockerd(b, flags...)
	if _, err := d.Run("load", "-i", archive); err != nil {
		b.Fatalf("docker load: %v", err)
	}
	for _, rt := range rts {
		b.Run(rt.Name, func(b *testing.B) {
			args := []string{"run", "--rm", "--runtime", rt.Name, "--network", "none", "busybox", "true"}
			if _, err := d.Run(args...); err != nil {
				refused(b, rt, err.Error())
			}
			b.ResetTimer()
			for range b.N {
				if _, err := d.Run(args...); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/run")
		})
	}
}

// BenchmarkContainerMemory starts b.N containers (sleep) per runtime
// under containerd and reports, per running container, the resident
// memory of what stays: the shim (containerd-shim-runc-v2, one per
// container, the same program whatever the runtime) and the processes
// in the container's cgroup (its init, which is the user's process once
// started, plus anything the runtime left there). The runtime's own
// create and start have exited by then, as runc's have.
func BenchmarkContainerMemory(b *testing.B) {
	rts := benchRuntimes(b)
	// The engine, its shims and the runtimes they start, all in it.
	b.Log(benchNamespace(b))
	c := startContainerd(b)
	c.importImage(b, busyboxArchive(b))
	for _, rt := range rts {
		b.Run(rt.Name, func(b *testing.B) {
			args := append([]string{"run", "-d"}, c.runtimeFlags(rt)...)
			var idsStarted []string
			defer func() {
				for _, id := range idsStarted {
					_, _ = c.ctr("tasks", "kill", "-s", "SIGKILL", id)
					c.waitStatus(b, id, "STOPPED")
					_, _ = c.ctr("tasks", "rm", id)
					_, _ = c.ctr("containers", "rm", id)
				}
			}()
			for i := range b.N {
				id := fmt.Sprintf("m-%s-%d", rt.Name, i)
				r, err := c.ctr(append(args, busybox, id, "sleep", "1000")...)
				if err != nil || r.Code != 0 {
					_, _ = c.ctr("containers", "rm", id)
					refused(b, rt, fmt.Sprintf("ctr run -d with %s: %s", rt.Name, failure(r, err)))
				}
				idsStarted = append(idsStarted, id)
			}
			b.StopTimer()
			var shimKiB, cgroupKiB, procs int
			for _, id := range idsStarted {
				for _, pid := range labtest.PidsMentioning(c.sock) {
					if isShimOf(pid, id) {
						shimKiB += rssKiB(pid)
					}
				}
				dirs, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup/memory", c.ns, id))
				if len(dirs) == 0 {
					dirs, _ = filepath.Glob(filepath.Join("/sys/fs/cgroup", c.ns, id))
				}
				for _, dir := range dirs {
					for _, pid := range cgroupProcs(dir) {
						cgroupKiB += rssKiB(pid)
						procs++
					}
				}
			}
			n := float64(len(idsStarted))
			b.ReportMetric(float64(shimKiB)/n, "shim-KiB/ctr")
			b.ReportMetric(float64(cgroupKiB)/n, "cgroup-KiB/ctr")
			b.ReportMetric(float64(procs)/n, "procs/ctr")
		})
	}
}

// refused ends a sub-benchmark whose runtime failed, crun included: in
// benchNamespace's namespace it runs here.
func refused(b *testing.B, rt runtime, msg string) {
	b.Helper()
	b.Fatalf("%s: %s", rt.Name, msg)
}

// failure says why a client failed: it could not be run, or what it
// printed and its status.
func failure(r result, err error) string {
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("status %d: %s", r.Code, strings.TrimSpace(r.Stderr))
}

// isShimOf tells whether pid is the shim of container id (its command
// line: containerd-shim-runc-v2 -namespace NS -id ID -address SOCK).
func isShimOf(pid int, id string) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	args := strings.Split(string(data), "\x00")
	for i := 0; i+1 < len(args); i++ {
		if args[i] == "-id" && args[i+1] == id {
			return true
		}
	}
	return false
}

// rssKiB is a process's resident set (VmRSS), 0 if it is gone.
func rssKiB(pid int) int {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				n, _ := strconv.Atoi(f[0])
				return n
			}
		}
	}
	return 0
}

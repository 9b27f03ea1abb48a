package seccomp

import (
	"encoding/json"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// cpuTime is the process's CPU time so far, user and system.
func cpuTime() time.Duration {
	var ru unix.Rusage
	_ = unix.Getrusage(unix.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkCompile is what a container's start pays for its filter on
// the host: cold, Docker's profile resolved by moby's code and compiled;
// cached, a lookup by the profile and the capabilities. cpu-ns/op is
// the CPU time (garbage collection included), which a busy machine
// does not inflate as it does ns/op.
func BenchmarkCompile(b *testing.B) {
	b.Run("cold", func(b *testing.B) {
		start, n := cpuTime(), 0
		for b.Loop() {
			if _, err := compile(Profile{}, defaultCaps, runtime.GOARCH); err != nil {
				b.Fatal(err)
			}
			n++
		}
		b.ReportMetric(float64(cpuTime()-start)/float64(n), "cpu-ns/op")
	})
	b.Run("cached", func(b *testing.B) {
		for b.Loop() {
			if _, err := Compile(Profile{}, defaultCaps); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkSpecJSON is the filter's share of the spec: encoded on the
// host, decoded by the container's init.
func BenchmarkSpecJSON(b *testing.B) {
	f, err := Compile(Profile{}, defaultCaps)
	if err != nil {
		b.Fatal(err)
	}
	data, err := json.Marshal(f)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("encode", func(b *testing.B) {
		for b.Loop() {
			_, _ = json.Marshal(f)
		}
	})
	b.Run("decode", func(b *testing.B) {
		start, n := cpuTime(), 0
		for b.Loop() {
			var g Filter
			if err := json.Unmarshal(data, &g); err != nil {
				b.Fatal(err)
			}
			n++
		}
		b.ReportMetric(float64(cpuTime()-start)/float64(n), "cpu-ns/op")
	})
}

// loadTimeEnv asks the test binary to load Docker's filter once and
// print how long seccomp(2) took: a process can stack only a few dozen
// filters, so each load is timed in a process of its own.
const loadTimeEnv = "BERTH_SECCOMP_BENCH_LOAD"

func init() {
	if os.Getenv(loadTimeEnv) == "" {
		return
	}
	f, err := Compile(Profile{}, defaultCaps)
	if err == nil {
		err = unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
	}
	if err != nil {
		println(err.Error())
		os.Exit(3)
	}
	// The thread's CPU time, not the clock's: on a busy machine the
	// clock also counts the time other processes had the CPU.
	var before, after unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &before)
	err = f.Load()
	_ = unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &after)
	if err != nil {
		println(err.Error())
		os.Exit(3)
	}
	os.Stdout.WriteString(strconv.FormatInt(after.Nano()-before.Nano(), 10) + "\n")
	os.Exit(0)
}

// BenchmarkLoad is the container's init's share: installing the filter
// with seccomp(2), on all threads (TSYNC). The metric cpu-ns/load is
// the syscall alone, in CPU time, measured in a fresh process each time
// (a process can stack only a few dozen filters).
func BenchmarkLoad(b *testing.B) {
	var total time.Duration
	n := 0
	for b.Loop() {
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), loadTimeEnv+"=1")
		out, err := cmd.Output()
		if err != nil {
			b.Fatal(err)
		}
		ns, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
		if err != nil {
			b.Fatal(err)
		}
		total += time.Duration(ns)
		n++
	}
	b.ReportMetric(float64(total.Nanoseconds())/float64(n), "cpu-ns/load")
}

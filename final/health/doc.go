// Package health is the engine's health checks (docker run --health-*,
// a Dockerfile's HEALTHCHECK): their schedule, the states a container
// goes through, and the log of the last results, in the shape of
// Docker's State.Health. It runs nothing itself: the daemon
// (final/daemon/health.go) owns the timer and runs each check inside the
// container, as docker exec does, then hands the result to State.Record.
// Keeping the rules here, without a clock or a process, lets them be
// tested on made-up times, and keeps them the same as dockerd's
// (daemon/health.go in moby), which Compose's depends_on:
// condition: service_healthy relies on.
//
// # A check's life
//
//	cfg := container's Config.Healthcheck, merged over the image's (Merge)
//	sch, err := health.NewSchedule(cfg)     // Docker's defaults filled in
//	var st health.State
//	st.Restart(startedAt)                   // "starting", streak 0, log kept
//	for {
//		wait st.Next(sch, now)          // the start interval, or the interval
//		run sch.Command(shell), killed after sch.Timeout
//		changed := st.Record(sch, health.Result{...})
//		if changed { emit "health_status: " + st.Status }
//	}
//
// # The timeline
//
// A container started at 0 with --health-start-period 10s, the default
// --health-start-interval (5s), --health-interval 30s, --health-retries 3:
//
//	time    0        5        10          40         70         100
//	        |--start period---|
//	checks           x(fail)  x(fail)     x(fail)    x(fail)    x(fail)
//	streak  0        0        0           1          2          3
//	status  starting starting starting    starting   starting   unhealthy
//
// The failures at 5 and 10 are within the start period while the status
// is still "starting": a slow start is not counted against the
// container. A success at any time makes it "healthy" and resets the
// streak; from then on every failure counts, start period or not, and
// Retries failures in a row make it "unhealthy". A later success makes
// it healthy again. Each change of status is a health_status event.
//
// Docker's defaults (what a zero field means): interval 30s, timeout 30s,
// start period 0, start interval 5s, retries 3. A check that runs past
// its timeout is killed and recorded with exit code -1 and the output
// "Health check exceeded timeout (30s)"; any exit code but 0 is a failure.
// The log keeps the last 5 results (MaxLog), each with at most 4096
// bytes of output (MaxOutput) and "..." where it was cut, as dockerd.
//
// # Where the state goes
//
// At each start of the container (a docker start, a restart policy's
// start, or berthd starting while the container runs) the status is
// "starting" again and the streak 0; the log is kept, as dockerd's
// initHealthMonitor does. When the run ends, the checks stop and the
// status becomes "unhealthy" (dockerd's choice, "for compatibility"),
// without an event; docker ps shows no health for a stopped container.
// A check that was running when the container died died with it, and
// counts as a failure (exit code 137), as with dockerd 20.10, which
// handles the check's end before the container's; no check starts once
// the container is dying, so a stop costs the streak one failure or
// none. docker pause stops the checks too, and the status is
// "unhealthy" until the first check after docker unpause.
//
// # What a check costs
//
// A check is an exec, with exactly docker exec's confinement: the
// container's namespaces and cgroup, its user and groups, its
// capabilities (bounding and ambient sets too), no_new_privs, its
// seccomp filter, a new session keyring, its environment and working
// directory. But it does not get in the way docker exec does. An exec
// starts a helper (package final/nsenter): the daemon's own program,
// 20 MB, re-executed so that C code can enter the namespaces before the
// Go runtime starts, whose Go part then sets up the rest. That is some 8
// ms of CPU each time, most of it starting a Go program this size; 50
// checks a second would take a whole core (BenchmarkHealthChecks
// measured 104-128 % of one). So the checks go through a fork server
// (nsenter.Server, chosen by measuring both, below): one small C
// process per daemon, started at the first check, that forks each check
// and confines it in C, in the same order as the helper. No Go runtime
// starts per check, and what a run's checks share is prepared once per
// run: the options (user, groups, the compiled filter), the open files
// of the container's namespaces and cgroup, and a zygote
// (nsenter.Cmd.StartZygote): a process the server forks once per run,
// that enters the container and takes its user, filter and capabilities
// once, and from which each check is then a vfork-like clone that only
// joins the cgroup, finds the command and executes it. The zygote stays
// in the host's PID namespace, in none of the container's cgroups, and
// ends with the run (final/nsenter's doc.go, "A zygote per command").
//
// Its price: a second implementation, in C, of what the helper's Go part
// does after entering (server.c beside inside.go; the chapters' Go code
// stays the one the container's init runs), which TestServer_SameAsCommand
// keeps honest by running every exec test of final/nsenter through both;
// one more process on the host (1.8 MiB resident, in no container,
// never counted against a container's pids.max or memory), and one per
// container with checks (its zygote: 1.6 MiB resident, 44 KiB of it its
// own); and the container's namespaces kept alive while its checks run
// (released at the run's end).
//
// BenchmarkHealthChecks (final/daemon), 50 containers each checked every
// second (`true`), 30 rounds, run one after the other 3 times each, on
// the 2-core VM shared with other work (docs/performance.md has the
// steps). The first rows were taken at load average 3 to 7, with the
// checks' side read in 10 ms ticks; the last two at load 10 to 13, read in
// nanoseconds (zygotes' schedstat, the containers' cgroups):
//
//	                           share of a core   CPU per check
//	berthd, helper per check      104-128 %        ~23 ms     (first)
//	berthd, fork server          14.3-17.7 %     2.9-3.7 ms
//	berthd, zygote                7.5-8.1 %      1.5-1.6 ms
//	berthd, zygote (again)        6.4-7.5 %      1.3-1.5 ms
//	  of which the daemon         2.6-3.1 %      0.5-0.6 ms
//	berthd, zygote and Probe      5.3-6.0 %      1.1-1.2 ms
//	  of which the daemon         1.4-1.7 %      0.3 ms
//	  the server, zygotes, checks 3.9-4.4 %      0.8-0.9 ms
//	dockerd (runc exec)           82-176 %      16.5-35 ms  (earlier runs)
//
// The daemon's side is one goroutine per container that waits for its
// timer, hands the zygote two pipes and waits on Go's poller for their
// end (nsenter.Cmd.Probe: no goroutine, timer or buffer per check, and
// no system call that wakes the runtime's sysmon), then emits the three
// exec events dockerd emits. The goal, under 5 % of a core, is not met at
// that load by the checks' side: a bare C loop of vfork, execve of
// busybox true and waitpid costs 0.49-0.51 ms there (0.42-0.46 ms on a
// quieter day), before the check joins a dozen cgroup v1 hierarchies and
// the zygote does its part. No design that runs the check as a process
// does much better; dockerd's runc exec costs ten times as much.
package health

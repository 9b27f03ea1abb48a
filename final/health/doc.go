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
//
// # What a check costs
//
// A check is a docker exec: package final/nsenter re-executes the
// daemon's program, which joins the container's namespaces before the
// Go runtime starts and then becomes the check's command. The daemon
// computes what the exec needs (user, groups, capabilities, the
// compiled seccomp filter) once per run of the container, not per
// check, and writes the state to disk only when the status or the streak
// changes. What remains per check is one start of the program (a Go
// runtime, about 10 ms of CPU for a binary of this size) and the check
// itself. BenchmarkHealthChecks in final/daemon measures it: with 50
// containers each checked every second, the daemon's own share is about
// 10 % of a core, and the helpers and checks about 90 % more (some 23 ms
// of CPU per check, measured on a 2-core virtual machine): the issue's
// goal (5 %) is not met. The cheap path is a fork server: one
// process per container, started once through nsenter, with the
// container's user, capabilities and seccomp filter already applied,
// that forks each check on request (a few hundred microseconds). Its
// price is a process that lives in the container (ps shows it, pids.max
// counts its threads, its memory is charged to the container), which is
// why it is a decision of its own and not done here.
package health

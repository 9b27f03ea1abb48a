// Package restart is berthd's restart policies (docker run --restart):
// which exits of a container are followed by a new start, when, and what
// the API shows meanwhile. It decides as dockerd decides, rule for rule,
// because the Compose files and scripts that use --restart were written
// against dockerd.
//
// # Why it is the engine's, and has state of its own
//
// A container's shim (chapter 07) supervises one run and is gone at its
// end; only the daemon outlives the runs, so only the daemon can start
// the next one. What it must remember for that is small, and some of it
// must outlive the daemon too: the policy (docker update changes it), the
// restarts so far (on-failure:N stops after N, and inspect shows
// RestartCount), and whether a user stopped the container (unless-stopped
// stays stopped after a reboot, always does not). That is the Record, a
// file beside the shim's in the container's directory. The rest (the
// back-off, its timer, the Status) dies with the daemon, as in dockerd:
// a new daemon decides again from the Record and the last exit
// (AtDaemonStart).
//
// # The rules
//
//	policy           after an exit (daemon running)     when the daemon starts
//	no               never                              never
//	on-failure[:N]   status != 0, fewer than N restarts same, whatever stopped it
//	always           yes, unless a user stopped it      yes, even if a user stopped it
//	unless-stopped   yes, unless a user stopped it      yes, unless a user stopped it
//
// A user's stop is docker stop, and docker kill (dockerd counts both);
// it holds until the next docker start, which also sets the count back
// to 0. A container that never ran is not started by a daemon's start,
// and a start that fails is not tried again: the policy acts on exits.
// docker run --rm with a policy is refused (Validate): the container
// would be removed at the exit the policy restarts.
//
// # The timeline of a failing container
//
// Each restart waits: 100 ms before the first, twice as long before
// each next one, never more than a minute (NextDelay). A run that lasted
// 10 s or more ends the series: the next wait is 100 ms again. The count
// goes up at each decision, before the wait.
//
//	exit 1 ──100ms──▶ run 2, exit 1 ──200ms──▶ run 3, exit 1 ──400ms──▶ run 4 ...
//	        count 1                   count 2                   count 3
//	state:  restarting               restarting               restarting
//
//	... run k lasts 12 s, exit 1 ──100ms──▶ run k+1 (the series starts over)
//
//	docker stop during a wait: the timer is stopped, the container is
//	"exited" with its last status, and it stays so until docker start.
//
// While it waits, the container is "restarting" to the API (Status):
// running for docker wait, docker start and docker rm (which wants -f),
// with docker ps showing "Restarting (1) 2 seconds ago": the last status
// and the time since the exit.
//
// # Using it
//
// The daemon opens a Manager per container and tells it what happens:
//
//	m, err := restart.Open(containerDir, created.HostConfig.RestartPolicy, restart.System)
//	...
//	// at each exit the daemon sees:
//	m.Exited(code, ranFor, func() { startAgain(); m.Started() })
//	// docker stop / kill, before signalling:
//	if pending, _ := m.Stop(); pending { /* it was waiting: now stopped */ }
//	// docker start:
//	m.ManualStart()
//	// when the daemon starts, for each container that does not run:
//	if m.AtDaemonStart(lastCode, ranBefore) { m.ManualStart(); start() }
//
// Time comes from a Clock: System in the daemon, a fake in the tests,
// which move it forward by hand and never sleep.
//
// The policy type is the Engine API module's RestartPolicy, and Validate
// uses that module's ValidateRestartPolicy, whose messages are current
// dockerd's: one source for the rule and the words, kept with the API.
package restart

package restart

// Status is where one container stands in its restart policy's cycle.
// It is the Manager's memory only: nothing of it is written to disk, as
// a timer cannot survive the daemon (a new daemon decides again from the
// record and the container's last exit, see AtDaemonStart).
//
//	          exit, policy says yes                 timer fires
//	Watching ─────────────────────▶ BackingOff ─────────────────▶ Starting
//	   ▲   ▲                            │                            │
//	   │   └──── stop, kill, rm ────────┘                            │
//	   └──────────────── start done (or failed) ─────────────────────┘
//
// The API shows BackingOff and Starting as Docker's "restarting": the
// container counts as running (docker wait waits, docker start answers
// "already started", docker rm wants -f) although no process runs.
type Status int

const (
	// Watching: nothing is scheduled. The container runs, or never
	// ran, or its last exit was final (the policy said no, or a user
	// stopped it). The daemon tells the Manager of the next exit.
	Watching Status = iota
	// BackingOff: the container exited and its policy restarts it;
	// the back-off timer runs. A stop, kill or rm cancels it here and
	// the container is stopped for good (its last exit stands).
	BackingOff
	// Starting: the timer fired and the daemon's start is under way.
	// A stop waits for it to end, then stops the new run as any.
	Starting
)

// String names the status as the doc's diagram does.
func (s Status) String() string {
	switch s {
	case Watching:
		return "watching"
	case BackingOff:
		return "backing off"
	case Starting:
		return "starting"
	}
	return "unknown"
}

// Restarting reports whether the API shows the container as
// "restarting": between an exit that the policy restarts and the end of
// the start that follows.
func (s Status) Restarting() bool { return s == BackingOff || s == Starting }

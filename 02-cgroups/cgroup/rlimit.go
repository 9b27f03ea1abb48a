package cgroup

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/berth-project/berth/01-namespaces/namespace"
	"golang.org/x/sys/unix"
)

// Resource limits (rlimits, setrlimit(2)) are the older way to bound a
// program, and they measure something else than a cgroup:
//
//	rlimit                               cgroup
//	------                               ------
//	one process (copied to children)     a group of processes, together
//	set by the process on itself         set from outside, by the host
//	checked at the call that would       counted by the kernel as the
//	pass it (open, fork, mmap, write)    group uses the resource
//	"this process may open 64 files"     "these processes share 256 MiB"
//
// A container with --ulimit nproc=10 and --pids-limit 10 differs: nproc
// counts the processes of the *user* (across containers with the same
// uid!), pids.max those of the cgroup. A fork bomb of five processes
// that each may open 1024 files holds 5120: only a cgroup bounds the
// sum. So a container uses both: cgroups for its share of the machine,
// rlimits for what each of its programs may do (core dumps, open files,
// stack size, real-time priority).
//
// The soft limit is the one the kernel enforces; a process may raise it
// up to the hard limit, and lower the hard limit, but only
// CAP_SYS_RESOURCE raises a hard limit. The container's init sets them
// on itself (namespace.Setup) before it execs the command, which
// inherits them.

// rlimitNames are Docker's names for the limits of --ulimit.
var rlimitNames = map[string]int{
	"as":         unix.RLIMIT_AS,
	"core":       unix.RLIMIT_CORE,
	"cpu":        unix.RLIMIT_CPU,
	"data":       unix.RLIMIT_DATA,
	"fsize":      unix.RLIMIT_FSIZE,
	"locks":      unix.RLIMIT_LOCKS,
	"memlock":    unix.RLIMIT_MEMLOCK,
	"msgqueue":   unix.RLIMIT_MSGQUEUE,
	"nice":       unix.RLIMIT_NICE,
	"nofile":     unix.RLIMIT_NOFILE,
	"nproc":      unix.RLIMIT_NPROC,
	"rss":        unix.RLIMIT_RSS,
	"rtprio":     unix.RLIMIT_RTPRIO,
	"rttime":     unix.RLIMIT_RTTIME,
	"sigpending": unix.RLIMIT_SIGPENDING,
	"stack":      unix.RLIMIT_STACK,
}

// Ulimit is one --ulimit: a limit by Docker's name, soft and hard, where
// -1 means unlimited.
type Ulimit struct {
	Name string `json:"name"`
	Soft int64  `json:"soft"`
	Hard int64  `json:"hard"`
}

func (u Ulimit) String() string { return fmt.Sprintf("%s=%d:%d", u.Name, u.Soft, u.Hard) }

// ParseUlimit parses NAME=SOFT[:HARD], with Docker's messages. A single
// value is both limits.
func ParseUlimit(s string) (Ulimit, error) {
	name, values, ok := strings.Cut(s, "=")
	if !ok {
		return Ulimit{}, fmt.Errorf("invalid ulimit argument: %s", s)
	}
	if _, ok := rlimitNames[name]; !ok {
		return Ulimit{}, fmt.Errorf("invalid ulimit type: %s", name)
	}
	parts := strings.Split(values, ":")
	if len(parts) > 2 {
		return Ulimit{}, fmt.Errorf("too many limit value arguments - %s, can only have up to two, `soft[:hard]`", values)
	}
	soft, err := strconv.ParseInt(parts[0], 10, 64)
	if err != nil {
		return Ulimit{}, fmt.Errorf("invalid ulimit %s: %w", s, err)
	}
	hard := soft
	if len(parts) == 2 {
		if hard, err = strconv.ParseInt(parts[1], 10, 64); err != nil {
			return Ulimit{}, fmt.Errorf("invalid ulimit %s: %w", s, err)
		}
	}
	u := Ulimit{Name: name, Soft: soft, Hard: hard}
	return u, u.check()
}

// check reports a limit the kernel would refuse: an unknown name, a soft
// limit above the hard one, a negative value other than -1.
func (u Ulimit) check() error {
	if _, ok := rlimitNames[u.Name]; !ok {
		return fmt.Errorf("invalid ulimit type: %s", u.Name)
	}
	for _, v := range []int64{u.Soft, u.Hard} {
		if v < -1 {
			return fmt.Errorf("invalid ulimit %s: a limit is a number, or -1 for unlimited", u)
		}
	}
	if rlim(u.Hard) < rlim(u.Soft) {
		return fmt.Errorf("ulimit soft limit must be less than or equal to hard limit: %d > %d", u.Soft, u.Hard)
	}
	return nil
}

// rlim converts Docker's -1 to RLIM_INFINITY.
func rlim(v int64) uint64 {
	if v == -1 {
		return math.MaxUint64 // RLIM_INFINITY
	}
	return uint64(v)
}

// Rlimits checks the limits and turns them into what init sets with
// setrlimit. A name given twice keeps its last value, as in Docker.
func Rlimits(us []Ulimit) ([]namespace.Rlimit, error) {
	last := map[string]Ulimit{}
	for _, u := range us {
		if err := u.check(); err != nil {
			return nil, err
		}
		last[u.Name] = u
	}
	names := make([]string, 0, len(last))
	for n := range last {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]namespace.Rlimit, 0, len(names))
	for _, n := range names {
		u := last[n]
		out = append(out, namespace.Rlimit{Resource: rlimitNames[n], Soft: rlim(u.Soft), Hard: rlim(u.Hard)})
	}
	return out, nil
}

// UlimitList is the value of the repeatable --ulimit flag.
type UlimitList []Ulimit

func (l *UlimitList) String() string {
	if l == nil {
		return ""
	}
	s := make([]string, len(*l))
	for i, u := range *l {
		s[i] = u.String()
	}
	return strings.Join(s, ",")
}

// Set parses one NAME=SOFT[:HARD].
func (l *UlimitList) Set(s string) error {
	u, err := ParseUlimit(s)
	if err != nil {
		return err
	}
	*l = append(*l, u)
	return nil
}

// CheckOOMScoreAdj checks --oom-score-adj: the kernel takes -1000 (never
// kill this process for lack of memory) to 1000 (kill it first).
func CheckOOMScoreAdj(n int) error {
	if n < -1000 || n > 1000 {
		return fmt.Errorf("Invalid value %d, range for oom score adj is [-1000, 1000]", n) //nolint:staticcheck // Docker's message
	}
	return nil
}

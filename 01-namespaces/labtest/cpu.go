package labtest

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// CPUTime is the user and system time of this process (unix.RUSAGE_SELF)
// or of the children it has waited for (unix.RUSAGE_CHILDREN): what a
// benchmark reports beside the wall time, so that a figure of a busy
// machine still says what the work cost. 0 if getrusage fails.
func CPUTime(who int) time.Duration {
	var ru unix.Rusage
	if unix.Getrusage(who, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// ProcCPU is the CPU time of process pid and of the children it has
// waited for (utime, stime, cutime and cstime of /proc/PID/stat), for a
// process that is not this one's child; 0 if it is gone.
func ProcCPU(pid int) time.Duration {
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0
	}
	// The command name, in parentheses, may hold spaces: count from
	// after its closing one.
	end := strings.LastIndexByte(string(stat), ')')
	if end < 0 || end+2 > len(stat) {
		return 0
	}
	fields := strings.Fields(string(stat[end+2:]))
	if len(fields) < 15 {
		return 0
	}
	var ticks int64
	for _, i := range []int{11, 12, 13, 14} {
		v, _ := strconv.ParseInt(fields[i], 10, 64)
		ticks += v
	}
	return time.Duration(ticks) * time.Second / 100 // USER_HZ
}

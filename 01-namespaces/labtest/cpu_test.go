package labtest

import (
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"golang.org/x/sys/unix"
)

func TestCPUTimeGrowsWithWork(t *testing.T) {
	before, procBefore := CPUTime(unix.RUSAGE_SELF), ProcCPU(os.Getpid())
	// 50 ms of CPU, not of the clock: on a loaded machine 50 ms of
	// wall time may bring next to none.
	for CPUTime(unix.RUSAGE_SELF)-before < 50*time.Millisecond {
	}
	assert.Greater(t, ProcCPU(os.Getpid()), procBefore, "at USER_HZ's 10 ms, 50 ms of work shows")
	assert.Zero(t, ProcCPU(1<<30), "no such process")
}

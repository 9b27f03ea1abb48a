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
	for deadline := time.Now().Add(50 * time.Millisecond); time.Now().Before(deadline); {
	}
	assert.Greater(t, CPUTime(unix.RUSAGE_SELF), before)
	assert.Greater(t, ProcCPU(os.Getpid()), procBefore, "at USER_HZ's 10 ms, 50 ms of work shows")
	assert.Zero(t, ProcCPU(1<<30), "no such process")
}

package namespace

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// TestCatchSignalsKeepsThemForHandover: a forwarded signal that comes
// before there is a process is caught (SIGUSR1 would otherwise end the
// test binary) and kept for Handover.
func TestCatchSignalsKeepsThemForHandover(t *testing.T) {
	e := CatchSignals()
	defer e.Stop()
	require.NoError(t, unix.Kill(os.Getpid(), unix.SIGUSR1))
	assert.Equal(t, os.Signal(unix.SIGUSR1), <-e.ch)
}

//go:build cgo

package nsenter

import (
	"os"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReusedPidIsNotEntered: the helper enters a namespace only if it is
// still the one Command saw; a PID that another process took since is
// refused, not entered. (Here the "container" is this process, and the
// namespace Command saw is one that does not exist.)
func TestReusedPidIsNotEntered(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	pid := strconv.Itoa(os.Getpid())
	c := &Cmd{
		pid:  os.Getpid(),
		args: []string{Name, pid, "uts:1"},
		env:  []string{configEnv + `={"args":["true"]}`},
	}
	err := c.Start()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "/proc/"+pid+"/ns/uts is namespace")
	assert.Contains(t, err.Error(), "not the container's any more")
}

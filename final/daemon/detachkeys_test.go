package daemon

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// A detach key sequence the daemon cannot read is refused with dockerd's
// words when the exec is created; a good one is taken.
func TestExecDetachKeysRefusedWithDockerdsMessage(t *testing.T) {
	l := newLab(t)
	l.ok("run", "-d", "--name", "box", "busybox", "sleep", "60")

	_, errOut, code := l.docker("", "exec", "-i", "--detach-keys", "ctrl-1", "box", "true")
	assert.NotEqual(t, 0, code)
	assert.Contains(t, errOut, "Invalid detach keys (ctrl-1) provided")

	_, errOut, code = l.docker("", "exec", "-i", "--detach-keys", "ctrl-a,x", "box", "true")
	assert.Equal(t, 0, code, errOut)
}

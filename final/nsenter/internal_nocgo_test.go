//go:build !cgo

package nsenter

import (
	"os"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestHelperWithoutConstructor: a helper started from a binary without
// nsenter.c (which Command refuses to do) fails cleanly in Go instead of
// running the command outside the container.
func TestHelperWithoutConstructor(t *testing.T) {
	c := &Cmd{
		pid:  os.Getpid(),
		args: []string{Name, strconv.Itoa(os.Getpid()), "-"},
		env:  []string{configEnv + `={"args":["true"]}`},
	}
	err := c.Start()
	require.Error(t, err)
	require.Contains(t, err.Error(), ErrNoCgo.Error())
}

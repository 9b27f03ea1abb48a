//go:build !cgo

package nsenter_test

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/final/nsenter"
)

// TestCommandNeedsCgo: built with CGO_ENABLED=0 there is no constructor
// to enter a mount namespace, and Command says so instead of starting a
// helper that could only fail.
func TestCommandNeedsCgo(t *testing.T) {
	_, err := nsenter.Command(nsenter.Options{Pid: os.Getpid(), Args: []string{"true"}})
	require.ErrorIs(t, err, nsenter.ErrNoCgo)
}

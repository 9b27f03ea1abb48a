package shim

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func TestParseSignal(t *testing.T) {
	for in, want := range map[string]unix.Signal{
		"TERM": unix.SIGTERM, "SIGTERM": unix.SIGTERM, "sigterm": unix.SIGTERM, "15": unix.SIGTERM,
		"kill": unix.SIGKILL, "usr1": unix.SIGUSR1, "64": unix.Signal(64),
	} {
		got, err := ParseSignal(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, bad := range []string{"", "0", "65", "-1", "SIGBOGUS", "TERM!"} {
		_, err := ParseSignal(bad)
		assert.ErrorContains(t, err, "invalid signal", bad)
	}
}

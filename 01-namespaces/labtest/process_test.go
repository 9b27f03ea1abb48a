package labtest

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestZombieReadsTheStateAfterTheLastParen(t *testing.T) {
	for _, tc := range []struct {
		stat string
		want bool
	}{
		{"42 (sh) Z 1 42", true},
		{"42 (sh) S 1 42", false},
		{"42 (a) Z (b)) S 1", false}, // comm "a) Z (b)": the state is S
		{"42 (a) S (b)) Z 1", true},
		{"42 (sh)", false},
		{"", false},
	} {
		assert.Equal(t, tc.want, zombie([]byte(tc.stat)), tc.stat)
	}
}

func TestProcessGone(t *testing.T) {
	assert.Error(t, ProcessGone(os.Getpid()), "the test itself still runs")

	cmd := exec.Command("true")
	require.NoError(t, cmd.Start())
	pid := cmd.Process.Pid
	// Until it is waited for, the ended child is a zombie: gone already.
	assert.NoError(t, ProcessGone(pid))
	require.NoError(t, cmd.Wait())
	assert.NoError(t, ProcessGone(pid), "reaped")
}

// A command's output copier writes into the Buffer while the test reads
// it.
func TestBufferTakesACommandsOutputWhileRead(t *testing.T) {
	var b Buffer
	cmd := exec.Command("sh", "-c", "echo one; echo two >&2")
	cmd.Stdout, cmd.Stderr = &b, &b
	require.NoError(t, cmd.Start())
	_ = b.String() // a read during the writes: the race detector's case
	require.NoError(t, cmd.Wait())
	assert.ElementsMatch(t, []string{"one", "two"}, strings.Fields(b.String()))
}

package ptytest

import (
	"os/exec"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A shell started on the terminal sees it as its terminal, of the size
// set, echoes what is typed, and its output reaches the screen.
func TestTerminalRunsAShell(t *testing.T) {
	term := Open(t)
	term.Resize(33, 101)
	cmd := exec.Command("/bin/sh")
	cmd.Env = []string{"PS1=$ ", "PATH=/usr/bin:/bin"}
	term.Start(cmd)

	term.Type("stty size; [ -t 0 ] && echo on-a-terminal\n")
	pos := term.WaitFor(0, "33 101")
	pos = term.WaitFor(pos, "on-a-terminal")
	assert.Contains(t, term.Text()[:pos], "stty size", "the terminal echoes what is typed")
	term.Type("exit 7\n")
	err := cmd.Wait()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit)
	assert.Equal(t, 7, exit.ExitCode())
}

package cli

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/assert"
)

func TestStartErrorStatus(t *testing.T) {
	cases := map[string]int{
		`Error response from daemon: failed to create task: exec: "nope": executable file not found in $PATH`: 127,
		`Error response from daemon: exec /bin/nope: no such file or directory`:                               127,
		`Error response from daemon: exec /etc/passwd: permission denied`:                                     126,
		`Error response from daemon: exec /tmp: is a directory`:                                               126,
		`Error response from daemon: No such image: nothere:latest`:                                           125,
		`Error response from daemon: Conflict. The container name "/web" is already in use`:                   125,
		`Cannot connect to the berth daemon`:                                                                  125,
	}
	for msg, want := range cases {
		assert.Equal(t, want, startErrorStatus(errors.New(msg)), msg)
	}
}

// Run turns errors into docker's exit statuses and messages.
func TestRunExitStatus(t *testing.T) {
	cases := []struct {
		err      error
		status   int
		printed  string
		mustNot  string
		describe string
	}{
		{StatusError{StatusCode: 3}, 3, "", "exit status", "a container's status, silently"},
		{StatusError{Status: "boom", StatusCode: 125}, 125, "boom\n", "", "an engine error with its text"},
		{StatusError{Status: "odd"}, 1, "odd\n", "", "never 0 for an error"},
		{fmt.Errorf("wrapped: %w", StatusError{StatusCode: 7}), 7, "", "", "wrapped"},
		{errors.New("Error response from daemon: No such container: x"), 1, "Error response from daemon: No such container: x\n", "", "a plain error"},
	}
	for _, tc := range cases {
		t.Run(tc.describe, func(t *testing.T) {
			var out, errw strings.Builder
			c := New(strings.NewReader(""), &out, &errw)
			status := runWith(c, func(*cobra.Command) error { return tc.err })
			assert.Equal(t, tc.status, status)
			assert.Equal(t, tc.printed, errw.String())
		})
	}
}

// runWith runs a one-off command through CLI.Run's error handling.
func runWith(c *CLI, fn func(*cobra.Command) error) int {
	root := NewRootCommand(c)
	root.AddCommand(&cobra.Command{Use: "fail", RunE: func(cmd *cobra.Command, _ []string) error { return fn(cmd) }})
	root.SetArgs([]string{"fail"})
	err := root.Execute()
	return c.exitStatus(err)
}

func TestFlagErrorsAre125(t *testing.T) {
	_, stderr, code := runBerth(t, "unix:///nonexistent", nil, nil, "run", "--bogus", "busybox")
	assert.Equal(t, 125, code)
	assert.Contains(t, stderr, "unknown flag: --bogus")
	assert.Contains(t, stderr, "Usage:  berth run [OPTIONS] IMAGE [COMMAND] [ARG...]")
	assert.Contains(t, stderr, "Run 'berth run --help' for more information")

	_, stderr, code = runBerth(t, "unix:///nonexistent", nil, nil, "run", "--memory", "1x", "busybox")
	assert.Equal(t, 125, code)
	assert.Contains(t, stderr, `invalid argument "1x" for "-m, --memory" flag`)

	_, stderr, code = runBerth(t, "unix:///nonexistent", nil, nil, "ps", "--bogus")
	assert.Equal(t, 125, code)
	assert.Contains(t, stderr, "unknown flag: --bogus")
}

func TestArgumentCountErrors(t *testing.T) {
	_, stderr, code := runBerth(t, "unix:///nonexistent", nil, nil, "run")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "'berth run' requires at least 1 argument")

	_, stderr, code = runBerth(t, "unix:///nonexistent", nil, nil, "tag", "a")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "'berth tag' requires 2 arguments")

	_, stderr, code = runBerth(t, "unix:///nonexistent", nil, nil, "frobnicate")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "unknown command")
}

// With no daemon, run fails as docker does: 125 and the reason.
func TestRunWithoutDaemonIs125(t *testing.T) {
	_, stderr, code := runBerth(t, "unix:///nonexistent/berth.sock", nil, nil, "run", "busybox", "true")
	assert.Equal(t, 125, code)
	assert.Contains(t, stderr, "/nonexistent/berth.sock")
	assert.Contains(t, stderr, "Run 'berth run --help' for more information")

	_, stderr, code = runBerth(t, "unix:///nonexistent/berth.sock", nil, nil, "ps")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "/nonexistent/berth.sock")
}

func TestHostSelection(t *testing.T) {
	c := New(nil, nil, nil)
	c.Getenv = func(string) string { return "" }
	assert.Equal(t, DefaultHost, c.Host())
	c.Getenv = func(k string) string {
		if k == HostEnv {
			return "unix:///env.sock"
		}
		return ""
	}
	assert.Equal(t, "unix:///env.sock", c.Host())

	// -H wins over the environment.
	_, stderr, code := runBerth(t, "unix:///from/env.sock", nil, nil, "-H", "unix:///from/flag.sock", "ps")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "/from/flag.sock")
	assert.NotContains(t, stderr, "/from/env.sock")
}

func TestRunRefusesTTYWithoutTerminal(t *testing.T) {
	rec := newRecorder(t)
	_, stderr, code := runBerth(t, rec.host, strings.NewReader("x"), nil, "run", "-it", "busybox", "sh")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "the input device is not a TTY")
	assert.Empty(t, rec.calls(), "nothing is created when the terminal check fails")
}

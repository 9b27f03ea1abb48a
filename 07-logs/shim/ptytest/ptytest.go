// Package ptytest gives a test a pseudo-terminal to run a program in, as
// a user's terminal emulator would: the program gets the slave as its
// controlling terminal and standard streams; the test types into the
// master and reads what the program writes to the screen from it.
//
// The tests of `docker run -it` against berthd and of `berth run -it`
// share it. The terminal itself is chapter 07's (shim.OpenPTY): the same
// code that gives a container its terminal gives the test its own.
package ptytest

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/07-logs/shim"
)

// Terminal is a pseudo-terminal pair and what its master has read.
type Terminal struct {
	t      testing.TB
	Master *os.File // what the test types into and reads the screen from
	Slave  *os.File // the program's terminal
	mu     sync.Mutex
	screen bytes.Buffer
}

// Open opens a terminal for t, closed when t ends. A goroutine reads the
// master all along, as a terminal emulator does: a program that writes
// to a terminal nobody reads blocks once the kernel's buffer is full.
func Open(t testing.TB) *Terminal {
	t.Helper()
	master, slave, err := shim.OpenPTY()
	require.NoError(t, err)
	term := &Terminal{t: t, Master: master, Slave: slave}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			term.mu.Lock()
			term.screen.Write(buf[:n])
			term.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		_ = slave.Close()
		_ = master.Close()
	})
	return term
}

// Resize sets the window size; the kernel then sends SIGWINCH to the
// terminal's foreground process group.
func (term *Terminal) Resize(rows, cols uint16) {
	term.t.Helper()
	require.NoError(term.t, shim.SetWinsize(term.Master, rows, cols))
}

// Start runs cmd with the slave as its controlling terminal and its three
// standard streams, in a session of its own, as a shell would. A cmd
// still running when the test ends is killed.
func (term *Terminal) Start(cmd *exec.Cmd) {
	term.t.Helper()
	cmd.Stdin, cmd.Stdout, cmd.Stderr = term.Slave, term.Slave, term.Slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	require.NoError(term.t, cmd.Start())
	term.t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
}

// Text is all the screen has shown so far.
func (term *Terminal) Text() string {
	term.mu.Lock()
	defer term.mu.Unlock()
	return term.screen.String()
}

// WaitFor waits until the screen shows s after position from, and
// returns the position after it: the next WaitFor looks past it.
func (term *Terminal) WaitFor(from int, s string) int {
	term.t.Helper()
	var text string
	ok := assert.Eventually(term.t, func() bool {
		text = term.Text()
		return strings.Contains(text[from:], s)
	}, 10*time.Second, 5*time.Millisecond)
	if !ok {
		term.t.Fatalf("the terminal never showed %q; it shows %q (all of it: %q)", s, text[from:], text)
	}
	return from + strings.Index(text[from:], s) + len(s)
}

// Type writes s to the master, as keys typed.
func (term *Terminal) Type(s string) {
	term.t.Helper()
	_, err := term.Master.WriteString(s)
	require.NoError(term.t, err)
}

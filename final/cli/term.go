package cli

import (
	"errors"
	"io"
	"sync"

	"golang.org/x/term"
)

// fileDescriptor is what *os.File offers and a terminal needs.
type fileDescriptor interface {
	Fd() uintptr
}

// terminalFd returns the file descriptor behind s if s is a terminal.
func terminalFd(s any) (int, bool) {
	f, ok := s.(fileDescriptor)
	if !ok {
		return 0, false
	}
	fd := int(f.Fd())
	return fd, term.IsTerminal(fd)
}

func isTerminal(s any) bool {
	_, ok := terminalFd(s)
	return ok
}

// terminalSize is the height and width of the terminal s, or zeros when
// s is not a terminal.
func terminalSize(s any) (height, width uint) {
	fd, ok := terminalFd(s)
	if !ok {
		return 0, 0
	}
	w, h, err := term.GetSize(fd)
	if err != nil || w <= 0 || h <= 0 {
		return 0, 0
	}
	return uint(h), uint(w)
}

// makeRaw puts the terminal s in raw mode and returns the function that
// restores it. In raw mode the terminal driver stops interpreting keys:
// ctrl-c is a byte 0x03 sent to the container (whose own terminal turns
// it into SIGINT), not a SIGINT to berth; and each key is sent at once,
// not a line at a time, which a shell's line editor needs.
func makeRaw(s any) (restore func(), err error) {
	fd, ok := terminalFd(s)
	if !ok {
		return func() {}, nil
	}
	state, err := term.MakeRaw(fd)
	if err != nil {
		return nil, err
	}
	var once sync.Once
	return func() {
		once.Do(func() { _ = term.Restore(fd, state) })
	}, nil
}

// errNotATTY is docker's message when -it is asked without a terminal.
var errNotATTY = errors.New("the input device is not a TTY")

// checkTTY refuses to attach stdin to a container's terminal when stdin
// is not one: raw keystrokes from a pipe make no sense to a pty.
func checkTTY(in io.Reader, attachStdin, tty bool) error {
	if tty && attachStdin && !isTerminal(in) {
		return errNotATTY
	}
	return nil
}

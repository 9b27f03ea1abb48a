package ociruntime

import (
	"errors"
	"fmt"
	"os"
	"os/signal"

	"golang.org/x/sys/unix"
)

// A terminal for `run` in the foreground, without --console-socket.
//
// `berth-runtime spec` writes process.terminal true, as runc's does, so
// the first thing a reader tries, `berth-runtime run NAME` at a shell,
// asks for a terminal with nobody given to hand its master to. runc
// keeps the master itself then and copies between it and its own
// terminal; so does berth. Init still sends the master the one way it
// knows (console.go), only over one end of a socket pair whose other
// end this process keeps, instead of over a connection to a caller's
// socket:
//
//	run                         init (after pivot_root)
//	socketpair(a, b) --b-->     open /dev/pts/ptmx, slave -> 0, 1, 2
//	recvmsg(a)  <--- master --- sendmsg(b)
//	our terminal raw; stdin -> master, master -> stdout; SIGWINCH -> resize
//
// The process starts only after run has the master and has given it
// our window size: run otherwise opens the exec FIFO's reading end
// before init waits on it (Container.gate), and the process would run
// at once, with a terminal of no size yet (busybox's `stty size` then
// fails: seen under load).
//
// Detached (run -d, create) there is no one to copy for: a terminal
// there still needs --console-socket, as runc says too.

// consolePair is the socket pair: ours to receive on, init's to send on.
func consolePair() (ours, theirs *os.File, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("process.terminal: socket pair for the terminal: %w", err)
	}
	return os.NewFile(uintptr(fds[0]), "console-ours"), os.NewFile(uintptr(fds[1]), "console-init"), nil
}

// recvConsole reads the master that init sent over the pair.
func recvConsole(f *os.File) (*os.File, error) {
	name := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := unix.Recvmsg(int(f.Fd()), name, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("process.terminal: receiving the terminal from init: %w", err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return nil, fmt.Errorf("process.terminal: init sent no terminal (%d control messages, %v)", len(msgs), err)
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return nil, errors.New("process.terminal: init sent no terminal")
	}
	return os.NewFile(uintptr(fds[0]), string(name[:n])), nil
}

// proxyTerminal makes the master ours to type at: the caller's terminal
// (or streams) copied to and from it, window size changes passed on.
// The returned function waits for the output to be copied (EIO once
// the container's side is closed) and restores our terminal.
func proxyTerminal(master, in, out *os.File) (done func()) {
	t := &execTerminal{master: master}
	t.attach(in, out)
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, unix.SIGWINCH)
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-winch:
				t.resizeFrom(in)
			case <-stop:
				return
			}
		}
	}()
	return func() {
		signal.Stop(winch)
		close(stop)
		t.drain()
		t.close()
	}
}

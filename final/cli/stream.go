package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/final/detachkeys"
)

// hijackedStream connects the user's streams to a hijacked connection:
// the raw TCP (or unix) stream that attach and exec start leave behind
// once the daemon has answered 101 UPGRADED.
//
//	user's stdin ──(detachReader)──► conn ──► container's stdin
//	user's stdout ◄──(raw if tty, else stdcopy)── conn ◄── container's output
//	user's stderr ◄──┘
//
// Without a terminal the daemon multiplexes stdout and stderr over the
// one connection in 8-byte-headed frames; with one there is only the
// pty's output, sent as it is.
type hijackedStream struct {
	in         io.Reader // nil: stdin is not attached
	out, errw  io.Writer // nil: not attached
	resp       client.HijackedResponse
	tty        bool
	detachKeys string
	warn       io.Writer // where to complain about bad detach keys
}

// start sets the terminal up (raw mode, detach keys) before it returns,
// so that nothing typed from then on is cooked by our terminal, and
// copies in both directions in the background. The channel delivers the
// result of the copying, once: nil when the output ended (the process
// exited), errDetached when the user detached, or ctx's error.
func (s *hijackedStream) start(ctx context.Context) <-chan error {
	done := make(chan error, 1)
	in := s.in
	restore := func() {}
	if in != nil && s.tty {
		// The keys go to the container's terminal one by one, so ours
		// must stop cooking them; and only then can we see ctrl-p.
		r, err := makeRaw(in)
		if err != nil {
			done <- fmt.Errorf("cannot put the terminal in raw mode: %w", err)
			return done
		}
		restore = r
		in = detachkeys.NewReader(in, s.detachKeySequence(), errDetached)
	}
	go func() {
		defer restore()
		done <- s.copy(ctx, in, restore)
	}()
	return done
}

func (s *hijackedStream) copy(ctx context.Context, in io.Reader, restore func()) error {
	outputDone := make(chan error, 1)
	go func() {
		var err error
		switch {
		case s.out == nil && s.errw == nil:
			// Nothing attached to read; wait for the daemon to close.
			_, err = io.Copy(io.Discard, s.resp.Reader)
		case s.tty:
			_, err = io.Copy(orDiscard(s.out), s.resp.Reader)
		default:
			_, err = stdcopy.StdCopy(orDiscard(s.out), orDiscard(s.errw), s.resp.Reader)
		}
		// Give the terminal back as soon as the container is done, even
		// though the stdin goroutine may stay blocked in a read.
		restore()
		outputDone <- err
	}()

	inputDone := make(chan struct{})
	detached := make(chan error, 1)
	go func() {
		if in != nil {
			_, err := io.Copy(s.resp.Conn, in)
			if errors.Is(err, errDetached) {
				detached <- err
				return
			}
		}
		// Half-close: the daemon sees EOF on the container's stdin but
		// keeps sending output until the process exits.
		_ = s.resp.CloseWrite()
		close(inputDone)
	}()

	select {
	case err := <-outputDone:
		return err
	case <-inputDone:
		if s.out != nil || s.errw != nil {
			select {
			case err := <-outputDone:
				return err
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	case err := <-detached:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *hijackedStream) detachKeySequence() []byte {
	if s.detachKeys != "" {
		keys, err := detachkeys.Parse(s.detachKeys)
		if err == nil {
			return keys
		}
		if s.warn != nil {
			fmt.Fprintf(s.warn, "%v; using the default %s\n", err, DefaultDetachKeys)
		}
	}
	keys, _ := detachkeys.Parse(DefaultDetachKeys)
	return keys
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// monitorTTYSize keeps the container's (or exec's) terminal the size of
// ours: once now, and again on every SIGWINCH, which the kernel sends us
// when the window changes. resize is ContainerResize or ExecResize.
func (c *CLI) monitorTTYSize(ctx context.Context, resize func(ctx context.Context, height, width uint) error) (stop func()) {
	apply := func() error {
		h, w := terminalSize(c.Out)
		if h == 0 && w == 0 {
			return nil
		}
		return resize(ctx, h, w)
	}
	if err := apply(); err != nil {
		// The process may not have its terminal yet right after start;
		// docker retries a few times too.
		go func() {
			for i := 1; i <= 10; i++ {
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Duration(i) * 10 * time.Millisecond):
				}
				if apply() == nil {
					return
				}
			}
			fmt.Fprintln(c.Err, "failed to resize tty, using default size")
		}()
	}

	winch := make(chan os.Signal, 1)
	signal.Notify(winch, unix.SIGWINCH)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-winch:
				_ = apply()
			case <-ctx.Done():
				return
			case <-done:
				return
			}
		}
	}()
	return func() {
		signal.Stop(winch)
		close(done)
	}
}

// proxiedSignals are the signals berth passes on to a container that has
// no terminal. Left out: SIGCHLD and SIGPIPE (about berth itself), SIGURG
// and SIGPROF (the Go runtime uses them), SIGWINCH (a window change means
// nothing to a process without a terminal), and SIGKILL and SIGSTOP,
// which cannot be caught.
var proxiedSignals = func() []os.Signal {
	skip := map[syscall.Signal]bool{
		unix.SIGCHLD: true, unix.SIGPIPE: true, unix.SIGURG: true, unix.SIGPROF: true,
		unix.SIGWINCH: true, unix.SIGKILL: true, unix.SIGSTOP: true,
	}
	var sigs []os.Signal
	for s := syscall.Signal(1); s <= unix.SIGSYS; s++ {
		if !skip[s] && unix.SignalName(s) != "" {
			sigs = append(sigs, s)
		}
	}
	return sigs
}()

// forwardSignals proxies the signals berth receives to the container
// (POST /containers/{id}/kill?signal=NAME) until stop is called. Without
// a terminal, ctrl-c in berth's terminal sends SIGINT to berth, not to
// the container; the proxy makes it reach the container all the same,
// and berth then exits with the container's status.
func (c *CLI) forwardSignals(ctx context.Context, cl *client.Client, id string) (stop func()) {
	sigc := make(chan os.Signal, 128)
	signal.Notify(sigc, proxiedSignals...)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigc:
				name := strings.TrimPrefix(unix.SignalName(s.(syscall.Signal)), "SIG")
				_, _ = cl.ContainerKill(ctx, id, client.ContainerKillOptions{Signal: name})
			case <-ctx.Done():
				return
			case <-done:
				return
			}
		}
	}()
	return func() {
		signal.Stop(sigc)
		close(done)
	}
}

// waitExitOrRemoved asks the daemon to report the container's next exit,
// or its removal when it was created with --rm (then the status arrives
// only once the container is gone, so berth never returns while the
// container still exists). It must be called before start, or a quick
// container could exit before the wait is registered. The channel
// delivers the exit status, or 125 if the wait failed.
func (c *CLI) waitExitOrRemoved(ctx context.Context, cl *client.Client, id string, removed bool) <-chan int {
	cond := container.WaitConditionNextExit
	if removed {
		cond = container.WaitConditionRemoved
	}
	res := cl.ContainerWait(ctx, id, client.ContainerWaitOptions{Condition: cond})
	status := make(chan int, 1)
	go func() {
		select {
		case r := <-res.Result:
			if r.Error != nil && r.Error.Message != "" {
				fmt.Fprintf(c.Err, "error waiting for container: %s\n", r.Error.Message)
				status <- 125
				return
			}
			status <- int(r.StatusCode)
		case err := <-res.Error:
			if ctx.Err() == nil {
				fmt.Fprintf(c.Err, "error waiting for container: %v\n", err)
			}
			status <- 125
		}
	}()
	return status
}

// startErrorStatus is the exit status docker gives a container that
// could not be started: 127 when the command does not exist, 126 when it
// exists but cannot be executed, 125 for any other failure of the engine.
// The daemon only has the error text to say which, so the text decides.
func startErrorStatus(err error) int {
	if client.IsErrConnectionFailed(err) {
		return 125 // "no such file or directory" of a socket that is not there
	}
	msg := strings.TrimPrefix(err.Error(), "Error response from daemon: ")
	switch {
	case strings.Contains(msg, "executable file not found"),
		strings.Contains(msg, "no such file or directory"),
		strings.Contains(msg, "system cannot find the file specified"):
		return 127
	case strings.Contains(msg, syscall.EACCES.Error()),
		strings.Contains(msg, syscall.EISDIR.Error()):
		return 126
	}
	return 125
}

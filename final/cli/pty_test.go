package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/01-namespaces/namespace"
	"github.com/berth-project/berth/07-logs/shim/ptytest"
	"github.com/berth-project/berth/final/api"
	"github.com/berth-project/berth/final/api/apitest"
	"github.com/berth-project/berth/final/daemon"
)

// The tests in this file run berth as a separate process (this test
// binary, re-executed), because what they check belongs to a process: a
// controlling terminal, the signals the kernel sends it, and the exit
// status.

const asBerthEnv = "BERTH_CLI_TEST_MAIN"

// TestMain makes the test binary play every part it is re-executed for:
// berth itself (asBerthEnv), and for the daemon of berthd_test.go a
// container's shim and a container's init. Anything else re-executed
// under that daemon is a bug that must not run the tests again (each
// run would start a daemon, whose shims would run them again...).
func TestMain(m *testing.M) {
	daemon.Runtime.Main() // a shim: supervise a container, then exit
	if namespace.IsInit() {
		os.Exit(daemon.Init()) // a container's init
	}
	if os.Getenv(asBerthEnv) == "1" {
		os.Exit(Main())
	}
	if os.Getenv(underBerthdEnv) != "" {
		fmt.Fprintf(os.Stderr, "cli.test re-executed as %q under a test's berthd: not a shim, an init or berth\n", os.Args)
		os.Exit(3)
	}
	os.Exit(m.Run())
}

func berthCommand(host string, args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), asBerthEnv+"=1", HostEnv+"="+host)
	return cmd
}

// resizeSpy is the fake engine, reporting each terminal resize of a
// container or an exec.
type resizeSpy struct {
	*apitest.Fake
	sizes chan [2]uint
}

func newResizeSpy() *resizeSpy {
	return &resizeSpy{Fake: apitest.NewFake(), sizes: make(chan [2]uint, 16)}
}

func (s *resizeSpy) report(h, w uint) {
	select {
	case s.sizes <- [2]uint{h, w}:
	default:
	}
}

func (s *resizeSpy) ContainerResize(ctx context.Context, name string, h, w uint) error {
	err := s.Fake.ContainerResize(ctx, name, h, w)
	if err == nil {
		s.report(h, w)
	}
	return err
}

func (s *resizeSpy) ExecResize(ctx context.Context, id string, h, w uint) error {
	err := s.Fake.ExecResize(ctx, id, h, w)
	if err == nil {
		s.report(h, w)
	}
	return err
}

// lineEcho is a program for the fake engine that answers each line of
// input with "got: LINE", records every byte it reads, and, like a shell
// on a terminal, does not end when its input does: only a signal (stop,
// kill, rm -f) ends it.
type lineEcho struct {
	mu   sync.Mutex
	read bytes.Buffer
}

func (l *lineEcho) program(ctx context.Context, p *apitest.Proc) int {
	go func() {
		buf := make([]byte, 256)
		var line []byte
		for {
			n, err := p.Stdin.Read(buf)
			l.mu.Lock()
			l.read.Write(buf[:n])
			l.mu.Unlock()
			for _, b := range buf[:n] {
				if b == '\n' || b == '\r' {
					fmt.Fprintf(p.Stdout, "got: %s\n", line)
					line = line[:0]
					continue
				}
				line = append(line, b)
			}
			if err != nil {
				return
			}
		}
	}()
	<-ctx.Done()
	return 0
}

func (l *lineEcho) input() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.read.String()
}

func waitSize(t *testing.T, sizes <-chan [2]uint, want [2]uint) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case got := <-sizes:
			if got == want {
				return
			}
		case <-deadline:
			t.Fatalf("the container's terminal was never resized to %v", want)
		}
	}
}

func waitExit(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
		return cmd.ProcessState.ExitCode()
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("berth did not exit")
		return -1
	}
}

// TestS17_S23_InteractiveTerminal drives `berth run -it` through a real
// pseudo-terminal: raw mode, window size, detach keys, and the terminal
// given back as it was.
func TestS17_S23_InteractiveTerminal(t *testing.T) {
	spy := newResizeSpy()
	echo := &lineEcho{}
	spy.SetProgram("line-echo", echo.program)
	host := apitest.Host(apitest.Serve(t, spy))
	p := ptytest.Open(t)
	p.Resize(40, 100)
	before, err := unix.IoctlGetTermios(int(p.Slave.Fd()), unix.TCGETS)
	require.NoError(t, err)
	require.NotZero(t, before.Lflag&unix.ECHO, "a fresh terminal echoes")

	cmd := berthCommand(host, "run", "-it", "--name", "shell", "busybox", "line-echo")
	p.Start(cmd)

	// The container's terminal takes our size, at creation and at once
	// after start.
	waitSize(t, spy.sizes, [2]uint{40, 100})
	ins, err := spy.ContainerInspect(context.Background(), "shell")
	require.NoError(t, err)
	assert.Equal(t, [2]uint{40, 100}, ins.HostConfig.ConsoleSize)
	assert.True(t, ins.Config.Tty && ins.Config.OpenStdin && ins.Config.AttachStdin)

	// Keys reach the container as typed. Our terminal, in raw mode,
	// neither echoes them (the program does not echo either, so an echo
	// would come from berth's side) nor turns ctrl-c into a signal to
	// berth: it is a byte for the container.
	_, err = p.Master.Write([]byte("hello-pty\r\x03x\r"))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return strings.Contains(p.Text(), "got: \x03x") }, 10*time.Second, 10*time.Millisecond)
	assert.Contains(t, p.Text(), "got: hello-pty")
	assert.NotContains(t, p.Text(), "hello-pty\r\n", "berth's terminal is in raw mode")
	assert.Equal(t, "hello-pty\r\x03x\r", echo.input(), "CR not made NL, ctrl-c passed on")

	// A window change reaches the container.
	p.Resize(50, 120)
	waitSize(t, spy.sizes, [2]uint{50, 120})

	// ctrl-p then something else: both reach the container.
	_, err = p.Master.Write([]byte{0x10, 'z', '\r'})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return strings.Contains(p.Text(), "got: \x10z") }, 10*time.Second, 10*time.Millisecond)

	// ctrl-p ctrl-q detaches: berth exits 0, the keys never reach the
	// container, and it runs on.
	_, err = p.Master.Write([]byte{0x10, 0x11})
	require.NoError(t, err)
	assert.Equal(t, 0, waitExit(t, cmd))
	assert.NotContains(t, echo.input(), "\x11")
	ins, err = spy.ContainerInspect(context.Background(), "shell")
	require.NoError(t, err)
	assert.True(t, ins.State.Running, "detaching leaves the container running")

	after, err := unix.IoctlGetTermios(int(p.Slave.Fd()), unix.TCGETS)
	require.NoError(t, err)
	assert.Equal(t, before.Lflag, after.Lflag, "the terminal's modes are given back")
	assert.Equal(t, before.Iflag, after.Iflag)
	assert.Equal(t, before.Oflag, after.Oflag)
}

func TestS23_InteractiveTerminalExitStatus(t *testing.T) {
	spy := newResizeSpy()
	host := apitest.Host(apitest.Serve(t, spy))
	p := ptytest.Open(t)
	p.Resize(24, 80)
	cmd := berthCommand(host, "run", "-it", "--rm", "busybox", "sh")
	p.Start(cmd)
	waitSize(t, spy.sizes, [2]uint{24, 80}) // started and attached
	_, err := p.Master.Write([]byte("echo bye; exit 3\n"))
	require.NoError(t, err)
	assert.Equal(t, 3, waitExit(t, cmd), "the shell's exit status is berth's")
	require.Eventually(t, func() bool { return strings.Contains(p.Text(), "bye") }, 5*time.Second, 10*time.Millisecond)
	list, err := spy.ContainerList(context.Background(), api.ListOptions{All: true})
	require.NoError(t, err)
	assert.Empty(t, list, "--rm removed it")
}

// TestS17_ExecInteractiveTerminal: exec -it through a pseudo-terminal.
func TestS17_ExecInteractiveTerminal(t *testing.T) {
	spy := newResizeSpy()
	host := apitest.Host(apitest.Serve(t, spy))
	_, errOut, code := runBerth(t, host, nil, nil, "run", "-d", "--name", "box", "busybox", "sleep", "60")
	require.Equal(t, 0, code, errOut)
	p := ptytest.Open(t)
	p.Resize(30, 90)
	cmd := berthCommand(host, "exec", "-it", "box", "sh")
	p.Start(cmd)
	waitSize(t, spy.sizes, [2]uint{30, 90}) // the exec's terminal, resized once attached
	_, err := p.Master.Write([]byte("echo in-exec; exit 9\n"))
	require.NoError(t, err)
	assert.Equal(t, 9, waitExit(t, cmd))
	require.Eventually(t, func() bool { return strings.Contains(p.Text(), "in-exec") }, 5*time.Second, 10*time.Millisecond)
	assert.NotContains(t, p.Text(), "echo in-exec", "raw mode for exec too")
}

// TestSignalProxy: without a terminal, SIGINT to berth reaches the
// container (POST kill?signal=INT), and berth exits with the status the
// container got from it. With --sig-proxy=false the signal ends berth
// alone.
func TestSignalProxy(t *testing.T) {
	e := newEngine(t)
	var out bytes.Buffer
	cmd := berthCommand(e.host, "run", "--name", "sig", "busybox", "sleep", "60")
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	// Running means started, and berth catches signals before it starts
	// the container.
	require.Eventually(t, func() bool {
		ins, err := e.fake.ContainerInspect(context.Background(), "sig")
		return err == nil && ins.State.Running
	}, 10*time.Second, 10*time.Millisecond)
	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	assert.Equal(t, 130, waitExit(t, cmd), "128+SIGINT, the container's status; output: %s", out.String())
	assert.Equal(t, "exited", e.state(t, "sig"))

	cmd = berthCommand(e.host, "run", "--sig-proxy=false", "--name", "nosig", "busybox", "sleep", "60")
	require.NoError(t, cmd.Start())
	require.Eventually(t, func() bool {
		ins, err := e.fake.ContainerInspect(context.Background(), "nosig")
		return err == nil && ins.State.Running
	}, 10*time.Second, 10*time.Millisecond)
	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	waitExit(t, cmd)
	ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
	assert.True(t, ws.Signaled() && ws.Signal() == syscall.SIGINT, "berth itself died of SIGINT")
	assert.Equal(t, "running", e.state(t, "nosig"), "the container did not get it")
}

// A tar archive is not for a terminal: save and export refuse to write
// one there, and load refuses to read one from there.
func TestArchivesAndTerminals(t *testing.T) {
	e := newEngine(t)
	p := ptytest.Open(t)
	var errOut bytes.Buffer
	run := func(in io.Reader, out io.Writer, args ...string) int {
		errOut.Reset()
		c := New(in, out, &errOut)
		c.Getenv = func(k string) string {
			if k == HostEnv {
				return e.host
			}
			return ""
		}
		return c.Run(args)
	}
	assert.Equal(t, 1, run(strings.NewReader(""), p.Slave, "save", "busybox"))
	assert.Contains(t, errOut.String(), "cowardly refusing to save to a terminal")
	e.ok(t, "create", "--name", "ex", "busybox")
	assert.Equal(t, 1, run(strings.NewReader(""), p.Slave, "export", "ex"))
	assert.Contains(t, errOut.String(), "cowardly refusing to save to a terminal")
	assert.Equal(t, 1, run(p.Slave, io.Discard, "load"))
	assert.Contains(t, errOut.String(), "requested load from stdin, but stdin is empty")

	// With -o, a terminal on stdout does not matter.
	file := t.TempDir() + "/bb.tar"
	assert.Equal(t, 0, run(strings.NewReader(""), p.Slave, "save", "-o", file, "busybox"), errOut.String())
	assert.Contains(t, tarNames(t, file), "manifest.json")
}

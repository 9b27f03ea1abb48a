package shim

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/01-namespaces/namespace"
)

// ContainerInit wraps the init function of a program's containers
// (namespace.Init, layer.Init, ...) with two steps that only the
// container's init itself can take, for the shim that starts it:
//
//   - When its stdin is a terminal (Config.Tty), it starts a session of
//     its own and makes the terminal the session's controlling terminal,
//     as a login does. The command inherits the session: ^C typed into
//     the terminal interrupts it, a resize reaches it as SIGWINCH, and a
//     shell gets job control. setsid(2) and TIOCSCTTY act on the caller,
//     so the shim, init's parent in another session, cannot do this.
//   - When init returns instead of executing the command (it does not
//     exist, cannot be executed, or the container could not be set up),
//     it tells the shim so on the exec watch (see execWatch in shim.go),
//     and the start fails as Docker's does, with init's message.
//   - Signals that the engine was started with ignored (SIGINT and
//     SIGQUIT, for a daemon started in the background by a script, or
//     SIGHUP under nohup) would stay ignored through every fork and
//     execve down to the command: a shell's trap on INT would do
//     nothing, and ^C would not stop anything. Init gives them back
//     their default action first.
//
// A program calls it where it names its init:
//
//	func TestMain(m *testing.M) { rt.Main(); labtest.Main(m, shim.ContainerInit(layer.Init)) }
//
// Without it, containers still run; a terminal is not a controlling one,
// and a command that cannot be executed is a run that exits 127 or 126.
func ContainerInit(init func() int) func() int {
	return func() int {
		namespace.UnignoreSignals()
		var st unix.Stat_t
		if unix.Fstat(consoleFD, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFSOCK {
			// run -t under a shim: the terminal comes from the
			// container's devpts, once it is mounted.
			namespace.AfterEnter = consoleInContainer
		} else if _, err := unix.IoctlGetTermios(0, unix.TCGETS); err == nil {
			if err := takeTerminal(); err != nil {
				fmt.Fprintf(os.Stderr, "berth-init: %v\n", err)
				return 125
			}
		}
		status := init()
		reportNoExec()
		return status
	}
}

// consoleFD is where init finds its end of the terminal socket
// (openTerminal in shim.go), as it finds the exec watch at execWatchFD.
const consoleFD = 101

// consoleInContainer gives the container its terminal, from inside: it
// opens /dev/ptmx, which is the container's own devpts (chapter 03), sends
// the master to the shim with the slave's name, and waits for the shim's
// answer (it sets the window size first). Then the slave becomes init's
// stdin, stdout and stderr, and its controlling terminal; the command
// inherits all that.
func consoleInContainer() error {
	defer unix.Close(consoleFD)
	m, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening the container's terminal: %w", err)
	}
	master, slave, err := openPTY(m)
	if err != nil {
		return err
	}
	defer master.Close()
	defer slave.Close()
	if err := unix.Sendmsg(consoleFD, []byte(slave.Name()), unix.UnixRights(int(master.Fd())), nil, 0); err != nil {
		return fmt.Errorf("sending the terminal to the shim: %w", err)
	}
	var ack [1]byte
	if n, err := unix.Read(consoleFD, ack[:]); n != 1 {
		return fmt.Errorf("the shim did not take the terminal: %v", err)
	}
	for fd := 0; fd < 3; fd++ {
		if err := unix.Dup3(int(slave.Fd()), fd, 0); err != nil {
			return fmt.Errorf("the terminal as fd %d: %w", fd, err)
		}
	}
	if err := bindConsole(slave.Name()); err != nil {
		return err
	}
	return takeTerminal()
}

// bindConsole makes the terminal the container's /dev/console too, as
// Docker (runc) does for a container with a terminal: programs that
// write to the console (an init system, a daemon's last words) then
// reach the user. A bind mount of the slave, over an empty file, in the
// container's own /dev; a /dev that has a console already (chapter
// 01's, the host's) is left alone.
func bindConsole(slave string) error {
	fd, err := unix.Open("/dev/console", unix.O_CREAT|unix.O_EXCL|unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0o666)
	if errors.Is(err, unix.EEXIST) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("creating /dev/console: %w", err)
	}
	unix.Close(fd)
	if err := unix.Mount(slave, "/dev/console", "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("binding the terminal %s onto /dev/console: %w", slave, err)
	}
	return nil
}

// takeTerminal makes stdin, a terminal, the controlling terminal of a
// new session led by this process. (Init is the shim's child, in the
// shim's process group and never its leader, so setsid succeeds.)
func takeTerminal() error {
	if _, err := unix.Setsid(); err != nil {
		return fmt.Errorf("new session: %w", err)
	}
	if err := unix.IoctlSetInt(0, unix.TIOCSCTTY, 0); err != nil {
		return fmt.Errorf("making stdin the controlling terminal: %w", err)
	}
	return nil
}

// reportNoExec writes "F" on the exec watch, if this init was started by
// a shim, and if the command never ran: init never executed it (it
// returned), and, under --init, never started it as a child. A child
// that init reaped shows in its children's resource usage: a process
// that ran has used some memory.
func reportNoExec() {
	var st unix.Stat_t
	if unix.Fstat(execWatchFD, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFIFO {
		return // not started by a shim
	}
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_CHILDREN, &ru) == nil && ru.Maxrss > 0 {
		return // --init: the command ran, and this is its status
	}
	_, _ = unix.Write(execWatchFD, []byte("F"))
}

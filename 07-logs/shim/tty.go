package shim

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// A container with a terminal (run -t)
//
// Without -t a container's stdout and stderr are pipes, and a program
// that asks "am I on a terminal?" (isatty) is told no: a shell prints no
// prompt, ls prints one name per line, nothing is coloured, and an
// editor refuses to start. With -t the shim gives the container a
// pseudo-terminal instead, a pair of devices that the kernel joins with
// a line discipline (echo, ^C, line editing, window size):
//
//	 shim (host)                                 container
//	 master  <======= line discipline =======>   slave: stdin, stdout, stderr
//	   | read: the terminal's output -> the log as stdout   (/dev/pts/0 of the container's devpts)
//	   ^ write: the stdin FIFO -> typed input
//
// The master stays with the shim, the slave is the container's init's
// three standard streams. The pair comes from the container's own devpts
// (chapter 03 mounts one in its /dev), so that a program in the
// container finds its terminal by name (tty prints /dev/pts/0): init
// opens it once that devpts is mounted and sends the master to the shim
// (openTerminal and receiveTerminal in shim.go, consoleInContainer in
// init.go). What the container writes to either
// stdout or stderr comes out of the master as one stream, as on a real
// terminal: the log of a terminal has only stdout, with the terminal's
// \r\n line ends, and is replayed raw (Docker does the same).
//
// The container's init makes the slave its controlling terminal
// (ContainerInit): only then does ^C typed into the terminal become a
// SIGINT for the foreground job, and a change of the window size a
// SIGWINCH.

// OpenPTY allocates a pseudo-terminal: the master, and the slave that a
// process uses as its terminal. The slave is opened through the master
// (TIOCGPTPEER), not by its name, so it is certainly this master's peer;
// Name tells the name all the same (ptsName).
func OpenPTY() (master, slave *os.File, err error) {
	m, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("opening a pseudo-terminal: %w", err)
	}
	return openPTY(m)
}

// OpenPTYIn allocates a pseudo-terminal of the devpts instance mounted at
// dev/pts under root: for root /proc/PID/root, the terminals of a running
// container, which chapter 03 gives a devpts of its own. A process in the
// container then finds its terminal by name (ttyname: /dev/pts/0), as it
// cannot find one of the host's. The container's files are the
// container's to change, so the device is opened with os.Root (no
// symlink leads out of root) and must be a ptmx device.
func OpenPTYIn(root string) (master, slave *os.File, err error) {
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, nil, fmt.Errorf("opening a pseudo-terminal: %w", err)
	}
	defer r.Close()
	f, err := r.OpenFile("dev/pts/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("opening a pseudo-terminal: %w", err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR ||
		unix.Major(st.Rdev) != 5 || unix.Minor(st.Rdev) != 2 {
		f.Close()
		return nil, nil, fmt.Errorf("opening a pseudo-terminal: %s/dev/pts/ptmx is not a ptmx device", root)
	}
	m, err := unix.Dup(int(f.Fd()))
	f.Close()
	if err != nil {
		return nil, nil, fmt.Errorf("opening a pseudo-terminal: %w", err)
	}
	unix.CloseOnExec(m)
	return openPTY(m)
}

// openPTY unlocks master m and opens its slave.
func openPTY(m int) (master, slave *os.File, err error) {
	// A new master's slave is locked until unlockpt(3): nobody can open
	// it by name in the meantime.
	if err := unix.IoctlSetPointerInt(m, unix.TIOCSPTLCK, 0); err != nil {
		unix.Close(m)
		return nil, nil, fmt.Errorf("unlocking the pseudo-terminal: %w", err)
	}
	// TIOCGPTPEER takes the slave's open flags as its argument.
	r, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(m), unix.TIOCGPTPEER, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC)
	if errno != 0 {
		unix.Close(m)
		return nil, nil, fmt.Errorf("opening the pseudo-terminal's slave: %w", errno)
	}
	s := int(r)
	name, err := ptsName(m)
	if err == nil {
		// Non-blocking: Go's poller waits for the master, so that
		// reads can have deadlines and Close interrupts them.
		err = unix.SetNonblock(m, true)
	}
	if err != nil {
		unix.Close(m)
		unix.Close(s)
		return nil, nil, err
	}
	return os.NewFile(uintptr(m), "/dev/ptmx"), os.NewFile(uintptr(s), name), nil
}

// ptsName is the name of the slave of master fd m: /dev/pts/N.
func ptsName(m int) (string, error) {
	n, err := unix.IoctlGetUint32(m, unix.TIOCGPTN)
	if err != nil {
		return "", fmt.Errorf("pseudo-terminal number: %w", err)
	}
	return fmt.Sprintf("/dev/pts/%d", n), nil
}

// SetWinsize sets the window size of terminal f (a master or a slave):
// the kernel sends SIGWINCH to the terminal's foreground process group,
// whose programs read the new size (TIOCGWINSZ) and redraw.
func SetWinsize(f *os.File, rows, cols uint16) error {
	conn, err := f.SyscallConn()
	if err != nil {
		return fmt.Errorf("terminal %s: %w", f.Name(), err)
	}
	var ierr error
	err = conn.Control(func(fd uintptr) {
		ierr = unix.IoctlSetWinsize(int(fd), unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols})
	})
	if err == nil {
		err = ierr
	}
	if err != nil {
		return fmt.Errorf("setting the window size of %s: %w", f.Name(), err)
	}
	return nil
}

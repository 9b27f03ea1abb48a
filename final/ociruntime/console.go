package ociruntime

import (
	"errors"
	"fmt"
	"net"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/07-logs/shim"
)

// The terminal (process.terminal with --console-socket), as runc does it.
//
// The caller (containerd's shim, `ctr run -t`, dockerd -t) listens on a
// unix socket and passes its path as --console-socket. The pseudo-
// terminal must come from the container's own devpts, so that the
// process finds its terminal by name; only init can open that one, and
// only after pivot_root. But init cannot reach the socket's path from
// there. So create connects to the socket on the host and hands the
// connection to init as a descriptor; init opens the terminal, makes
// the slave its stdin, stdout, stderr and controlling terminal, and
// sends the master back over the connection (SCM_RIGHTS), as the caller
// expects:
//
//	caller            create                 init (after pivot_root)
//	listen(S)  <-- connect(S) --fd-->        open /dev/pts/ptmx (chapter 07's OpenPTYIn)
//	                                         slave -> 0, 1, 2; setsid; TIOCSCTTY
//	recvmsg   <-------- master (SCM_RIGHTS) -- sendmsg
//
// The message's bytes are the master's name, which runc's receivers read
// along.

// connectConsole connects to the caller's console socket.
func connectConsole(path string) (*os.File, error) {
	c, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("--console-socket %s: %w", path, err)
	}
	defer c.Close()
	f, err := c.File() // a blocking duplicate, for init
	if err != nil {
		return nil, fmt.Errorf("--console-socket %s: %w", path, err)
	}
	return f, nil
}

// setupConsole runs in init after pivot_root: the terminal for the
// process, its master sent over the console connection on fd.
func setupConsole(fd int, size *specs.Box) error {
	if fd <= 0 {
		return errors.New("process.terminal: no --console-socket given")
	}
	master, slave, err := shim.OpenPTYIn("/")
	if err != nil {
		return fmt.Errorf("process.terminal: %w", err)
	}
	defer master.Close()
	defer slave.Close()
	if size != nil {
		if err := shim.SetWinsize(slave, uint16(size.Height), uint16(size.Width)); err != nil {
			return fmt.Errorf("process.consoleSize: %w", err)
		}
	}
	if err := bindConsole(slave.Name()); err != nil {
		return err
	}
	for i := 0; i <= 2; i++ {
		if err := unix.Dup3(int(slave.Fd()), i, 0); err != nil {
			return fmt.Errorf("process.terminal: the terminal as descriptor %d: %w", i, err)
		}
	}
	// A new session, with the terminal as its controlling terminal:
	// then ^C is a SIGINT for the foreground job. (Init is not a
	// process group leader: setsid succeeds.)
	if _, err := unix.Setsid(); err != nil {
		return fmt.Errorf("process.terminal: new session: %w", err)
	}
	if err := unix.IoctlSetInt(0, unix.TIOCSCTTY, 0); err != nil {
		return fmt.Errorf("process.terminal: making it the controlling terminal: %w", err)
	}
	rights := unix.UnixRights(int(master.Fd()))
	if err := unix.Sendmsg(fd, []byte(master.Name()), rights, nil, 0); err != nil {
		return fmt.Errorf("--console-socket: sending the terminal: %w", err)
	}
	unix.Close(fd)
	return nil
}

// bindConsole makes the terminal the container's /dev/console too, as
// runc does: a bind mount of the slave over a file of its own in the
// container's /dev. Rootfs.Prepare made that file (an empty one) while
// /dev could still be written; a /dev whose console is a device (the
// host's /dev, bound) is left alone.
func bindConsole(slave string) error {
	fd, err := unix.Open("/dev/console", unix.O_CREAT|unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0o666)
	if err != nil {
		return fmt.Errorf("process.terminal: /dev/console: %w", err)
	}
	var st unix.Stat_t
	err = unix.Fstat(fd, &st)
	unix.Close(fd)
	if err != nil {
		return fmt.Errorf("process.terminal: /dev/console: %w", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil
	}
	if err := unix.Mount(slave, "/dev/console", "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("process.terminal: binding %s onto /dev/console: %w", slave, err)
	}
	return nil
}

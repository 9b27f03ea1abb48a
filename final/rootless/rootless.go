package rootless

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"os/user"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

// The networks a rootless berthd can have (berthd's --rootless-net).
const (
	// NetSlirp4netns gives the namespace a tap device whose other end
	// is slirp4netns, a user-mode TCP/IP stack on the host.
	NetSlirp4netns = "slirp4netns"
	// NetNone gives the namespace only lo: the containers reach one
	// another on their bridges, and nothing else.
	NetNone = "none"
)

// The addresses slirp4netns --configure gives the namespace: the tap's
// own, and its DNS forwarder (which asks the host's resolvers).
const (
	slirpGuestAddr = "10.0.2.100"
	slirpDNS       = "10.0.2.3"
)

// stageEnv tells a berthd which stage of the start it is (see doc.go):
// unset in the one the user starts, "child" in the one cloned into the
// new namespaces, "inside" once that one has re-executed itself as root
// of its user namespace.
const stageEnv = "BERTH_ROOTLESS_STAGE"

// syncFD is the child's end of the pipe on which the parent says that
// the ID maps and the network are ready: the first of cmd.ExtraFiles.
const syncFD = 3

// Dirs are the places of a rootless berthd: the user's, not the
// system's, as the XDG base directories define them.
type Dirs struct {
	Socket   string // $XDG_RUNTIME_DIR/berth/berth.sock
	ExecRoot string // $XDG_RUNTIME_DIR/berth
	DataRoot string // $XDG_DATA_HOME/berth, ~/.local/share/berth
}

// DefaultDirs returns the places of a rootless berthd of the user whose
// environment this is.
func DefaultDirs() (Dirs, error) {
	run := os.Getenv("XDG_RUNTIME_DIR")
	if run == "" {
		return Dirs{}, errors.New("rootless: XDG_RUNTIME_DIR is not set: a login session sets it (/run/user/UID); or set it to a directory of yours, mode 0700")
	}
	data := os.Getenv("XDG_DATA_HOME")
	if data == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return Dirs{}, fmt.Errorf("rootless: %w", err)
		}
		data = filepath.Join(home, ".local", "share")
	}
	exec := filepath.Join(run, "berth")
	return Dirs{Socket: filepath.Join(exec, "berth.sock"), ExecRoot: exec, DataRoot: filepath.Join(data, "berth")}, nil
}

// Options say how to start the rootless berthd.
type Options struct {
	// Net is NetSlirp4netns or NetNone.
	Net string
	// Args are berthd's arguments, given again to the berthd inside.
	Args []string
	// ExecRoot is where the parent keeps its files (slirp4netns's API
	// socket).
	ExecRoot string
}

// Validate reports options that cannot work.
func (o Options) Validate() error {
	if o.Net != NetSlirp4netns && o.Net != NetNone {
		return fmt.Errorf("rootless: network %q: choose %s or %s", o.Net, NetSlirp4netns, NetNone)
	}
	return nil
}

// Run is the parent's part, in the berthd that the user starts: it
// starts berthd again in new user, mount and network namespaces, maps
// the user's IDs into them, gives them a network, and waits for that
// berthd, passing it the signals it gets. It returns berthd's exit
// status.
func Run(o Options) (int, error) {
	if err := o.Validate(); err != nil {
		return 1, err
	}
	if os.Geteuid() == 0 {
		return 1, errors.New("rootless: berthd --rootless is for an ordinary user; root runs berthd without it")
	}
	u, err := user.Current()
	if err != nil {
		return 1, fmt.Errorf("rootless: %w", err)
	}
	uids, err := SubIDs("/etc/subuid", u.Username, os.Getuid())
	if err != nil {
		return 1, fmt.Errorf("rootless: %w", err)
	}
	gids, err := SubIDs("/etc/subgid", u.Username, os.Getgid())
	if err != nil {
		return 1, fmt.Errorf("rootless: %w", err)
	}
	if o.Net == NetSlirp4netns {
		if err := checkTun(); err != nil {
			return 1, err
		}
	}
	if err := os.MkdirAll(o.ExecRoot, 0o700); err != nil {
		return 1, fmt.Errorf("rootless: %w", err)
	}
	// One rootless berthd per exec root: a second would take the
	// first's slirp4netns socket before its own daemon found the data
	// root taken.
	unlock, err := lockExecRoot(o.ExecRoot)
	if err != nil {
		return 1, err
	}
	defer unlock()
	exe, err := os.Executable()
	if err != nil {
		return 1, fmt.Errorf("rootless: %w", err)
	}
	if err := killLeftovers(o.ExecRoot, exe); err != nil {
		return 1, err
	}

	// The child blocks on this pipe until its maps and its network are
	// there: before the maps it is nobody in its namespace, and a
	// berthd that started serving without a network would fail each
	// container's first packet.
	syncR, syncW, err := os.Pipe()
	if err != nil {
		return 1, fmt.Errorf("rootless: %w", err)
	}
	defer syncW.Close()
	child := exec.Command(exe, o.Args...)
	child.Args[0] = os.Args[0]
	child.Env = append(os.Environ(), stageEnv+"=child")
	child.Stdin, child.Stdout, child.Stderr = os.Stdin, os.Stdout, os.Stderr
	child.ExtraFiles = []*os.File{syncR} // syncFD
	child.SysProcAttr = &syscall.SysProcAttr{
		// All three at once: the mount and network namespaces are
		// then owned by the new user namespace, so its root may
		// mount and configure them. No UidMappings: Go would write
		// the map itself, which an ordinary user may do for its own
		// ID only; newuidmap maps the subordinate range too.
		Cloneflags: unix.CLONE_NEWUSER | unix.CLONE_NEWNS | unix.CLONE_NEWNET,
		// The namespaces have no use without this process, which
		// holds their network: the child goes when it goes.
		Pdeathsig: syscall.SIGKILL,
	}
	if err := child.Start(); err != nil {
		syncR.Close()
		return 1, fmt.Errorf("rootless: starting berthd in new namespaces: %w", err)
	}
	syncR.Close()
	fail := func(err error) (int, error) {
		_ = child.Process.Kill()
		_ = child.Wait()
		return 1, fmt.Errorf("rootless: %w", err)
	}
	pid := child.Process.Pid
	// The namespace's identity, to find what is left in it at the end.
	userns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/user", pid))
	if err == nil {
		err = os.WriteFile(filepath.Join(o.ExecRoot, nsFile), []byte(userns+"\n"), 0o600)
	}
	if err != nil {
		return fail(err)
	}
	for _, m := range []struct {
		helper string
		id     int
		r      Range
	}{{"newuidmap", os.Getuid(), uids}, {"newgidmap", os.Getgid(), gids}} {
		// The setuid helpers check the range against /etc/subuid
		// (subgid) before they write /proc/PID/uid_map (gid_map).
		if out, err := exec.Command(m.helper, mapArgs(pid, m.id, m.r)...).CombinedOutput(); err != nil {
			return fail(fmt.Errorf("%s %v: %w: %s (Debian's package uidmap has it)", m.helper, mapArgs(pid, m.id, m.r), err, out))
		}
	}
	if o.Net == NetSlirp4netns {
		stop, err := startSlirp(pid, APISocket(o.ExecRoot))
		if err != nil {
			return fail(err)
		}
		defer stop()
	}
	if _, err := syncW.Write([]byte{1}); err != nil {
		return fail(fmt.Errorf("waking berthd up: %w", err))
	}
	syncW.Close()

	// berthd stops on TERM and INT; so does this process, once berthd
	// has. A terminal's ^C reaches both (one process group): berthd
	// then gets it twice, and stops once.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT)
	defer signal.Stop(sigs)
	done := make(chan error, 1)
	go func() { done <- child.Wait() }()
	for {
		select {
		case sig := <-sigs:
			_ = child.Process.Signal(sig)
		case err := <-done:
			code, err := exitStatus(child, err)
			if kerr := killNamespace(userns); kerr != nil {
				return code, errors.Join(err, kerr)
			}
			return code, errors.Join(err, os.Remove(filepath.Join(o.ExecRoot, nsFile)))
		}
	}
}

// lockExecRoot takes the lock of a rootless berthd's exec root, held
// until unlock or the process's end; it fails at once if another holds it.
func lockExecRoot(dir string) (unlock func(), err error) {
	path := filepath.Join(dir, "rootless.lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("rootless: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("rootless: another berthd --rootless runs with exec root %s", dir)
		}
		return nil, fmt.Errorf("rootless: locking %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}

// exitStatus is the status the shell would show for the child.
func exitStatus(c *exec.Cmd, err error) (int, error) {
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return 1, fmt.Errorf("rootless: %w", err)
	}
	ws, ok := c.ProcessState.Sys().(syscall.WaitStatus)
	if ok && ws.Signaled() {
		return 128 + int(ws.Signal()), nil
	}
	return c.ProcessState.ExitCode(), nil
}

// checkTun fails early, with the remedy, if the user cannot open the tun
// device that slirp4netns needs. Debian's udev rules make it 0666; a
// machine without udev may leave the kernel's 0600.
func checkTun() error {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("rootless: /dev/net/tun: %w: slirp4netns needs it (udev normally makes it mode 0666: chmod 0666 /dev/net/tun), or start with --rootless-net none", err)
	}
	unix.Close(fd)
	return nil
}

// Enter does the child's stage, in a berthd that the parent started in
// new namespaces, and reports whether this berthd is the one inside.
//
// In the child (stage "child") it waits for the parent's word that the
// ID maps are written, then re-executes berthd: the clone made it root
// of its namespace with every capability, but its first execve, still
// unmapped and so not uid 0, dropped them all. The second execve, as
// uid 0 of the namespace, gives them back. It does not return then.
//
// Anywhere else it returns false: a berthd the user started, a shim, a
// container's init. Call it before the flags are parsed.
func Enter() (inside bool, err error) {
	switch os.Getenv(stageEnv) {
	case "":
		return false, nil
	case "inside":
		// Not for the shims and the containers this berthd starts.
		os.Unsetenv(stageEnv)
		return true, nil
	case "child":
	default:
		return false, fmt.Errorf("rootless: %s=%q: unknown stage", stageEnv, os.Getenv(stageEnv))
	}
	sync := os.NewFile(syncFD, "rootless-sync")
	b := make([]byte, 1)
	n, _ := sync.Read(b)
	sync.Close()
	if n != 1 {
		return false, errors.New("rootless: the parent berthd did not finish the user namespace (see its error)")
	}
	if os.Getuid() != 0 {
		return false, fmt.Errorf("rootless: uid %d after the maps, not 0", os.Getuid())
	}
	os.Setenv(stageEnv, "inside")
	exe, err := os.Executable()
	if err != nil {
		return false, fmt.Errorf("rootless: %w", err)
	}
	return false, fmt.Errorf("rootless: re-executing %s: %w", exe, syscall.Exec(exe, os.Args, os.Environ()))
}

// Setup prepares the inside berthd's mount namespace, once Enter has
// said it is inside, for network net.
func Setup(net, execRoot string) error {
	// The namespaces are held by the parent; so is the network. If
	// the parent dies, so does this berthd (the clone's Pdeathsig
	// went at the re-execution, which changed the credentials).
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0); err != nil {
		return fmt.Errorf("rootless: PR_SET_PDEATHSIG: %w", err)
	}
	if os.Getppid() == 1 {
		return errors.New("rootless: the parent berthd is gone")
	}
	// Slave, not private: a directory the user mounts on the host
	// later (to give it to a container with -v) still appears here,
	// while the layers and containers mounted here never appear on
	// the host.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_SLAVE, ""); err != nil {
		return fmt.Errorf("rootless: making / a slave mount: %w", err)
	}
	if net == NetSlirp4netns {
		// The host's resolvers may be on its loopback (127.0.0.53),
		// which the namespace cannot reach: slirp4netns forwards
		// DNS at 10.0.2.3. Containers copy /etc/resolv.conf.
		conf := filepath.Join(execRoot, "resolv.conf")
		if err := os.WriteFile(conf, []byte("nameserver "+slirpDNS+"\n"), 0o644); err != nil {
			return fmt.Errorf("rootless: %w", err)
		}
		if err := unix.Mount(conf, "/etc/resolv.conf", "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("rootless: binding %s on /etc/resolv.conf: %w", conf, err)
		}
	}
	return nil
}

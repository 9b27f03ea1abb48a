package ociruntime

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/01-namespaces/namespace"
	"github.com/berth-project/berth/02-cgroups/cgroup"
	"github.com/berth-project/berth/04-cow-layers/atomicfile"
)

// CreateOptions are create's (and run's) flags, as runc spells them.
type CreateOptions struct {
	ID            string
	Bundle        string // --bundle, -b: the directory holding config.json ("." if empty)
	PidFile       string // --pid-file: init's PID is written there
	ConsoleSocket string // --console-socket: where the terminal's master goes
	NoPivot       bool   // --no-pivot: MS_MOVE and chroot instead of pivot_root
	NoNewKeyring  bool   // --no-new-keyring: keep the caller's session keyring
	PreserveFDs   int    // --preserve-fds: descriptors 3..3+N-1 go to the process
	// Stdio is what init, then the process, gets as its standard
	// streams: the caller's own (os.Stdin, os.Stdout, os.Stderr) when
	// nil, as runc passes them on.
	Stdio *namespace.Stdio
	// Foreground keeps init a child that dies with this process (run
	// without --detach waits for it); create leaves it detached, for
	// the caller's subreaper to adopt.
	Foreground bool
	// openGate: run starts the container right after create, and
	// opens the exec FIFO before init waits on it (Container.gate).
	openGate bool
	// keepTerminal: run in the foreground keeps a terminal's master
	// itself when no --console-socket is given (run_tty.go).
	keepTerminal bool
}

// Container is a container that Create made: its record, and init as
// this process's child (for run, which waits for it).
type Container struct {
	Record *Record
	Init   *namespace.Process
	config *recordedConfig
	// gate is the exec FIFO's reading end and init's pidfd, opened by
	// create for run: init finds its reader there already and goes on
	// to the process without a round trip through this process (it
	// costs a wake-up of each side, milliseconds on a busy machine).
	gate *gate
	// console receives the terminal's master from init, for run in
	// the foreground without --console-socket (run_tty.go); nil
	// otherwise.
	console *os.File
}

// Create makes container o.ID from its bundle, up to the exec FIFO:
// when it returns, init has set everything up and waits for Start, and
// the record is saved. doc.go tells the sequence and why each step is
// where it is. On failure nothing is left: no state directory, no
// cgroup, no init.
func Create(root string, o CreateOptions) (c *Container, err error) {
	if err := CheckID(o.ID); err != nil {
		return nil, err
	}
	go warmPidfdCheck() // tuning_start.go
	if o.Bundle == "" {
		o.Bundle = "."
	}
	bundleDir, raw, err := readBundle(o.Bundle)
	if err != nil {
		return nil, err
	}
	// The bundle is decoded and checked, and the cgroup made, beside
	// init's fork and start (tuning_start.go): init is forked with what
	// forkConfig reads of config.json, which is how it is forked, and
	// waits for its spec, which it gets only once all is checked.
	claimed := make(chan bool, 1) // the state directory is ours: the cgroup may be made
	parsed := prepareBundle(bundleDir, raw, o, claimed)
	cfg, early := forkConfig(raw)
	// A console socket is connected to before the fork: only once the
	// bundle says the process has a terminal.
	early = early && o.ConsoleSocket == ""
	var pb *preparedBundle
	if !early {
		if pb = <-parsed; pb.err != nil {
			close(claimed)
			return nil, pb.err
		}
		cfg = pb.cfg
	}

	// The state directory is the container's claim on its ID: Mkdir
	// fails if another create has it.
	if err := os.MkdirAll(root, 0o711); err != nil {
		close(claimed)
		return nil, fmt.Errorf("--root %s: %w", root, err)
	}
	dir := Dir(root, o.ID)
	if err := os.Mkdir(dir, 0o711); err != nil {
		close(claimed)
		if errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("container %s: already exists", o.ID)
		}
		return nil, fmt.Errorf("container %s: %w", o.ID, err)
	}
	claimed <- true
	var (
		cg   *cgroup.Cgroup
		init *namespace.Process
		g    *gate
		// console: ours of the terminal's socket pair (run_tty.go)
		console *os.File
		// mountsBefore: the host's mount table before init could
		// mount in it (a container without a mount namespace).
		mountsBefore []mountinfoEntry
	)
	// waitPrepared waits for the bundle, checked, and its cgroup.
	prepared := false
	waitPrepared := func() error {
		if prepared {
			return pb.err
		}
		prepared = true
		if pb == nil {
			pb = <-parsed
		}
		if pb.err == nil {
			pb.err = <-pb.cgMade
			cg = pb.cg
		}
		return pb.err
	}
	defer func() {
		if err == nil {
			return
		}
		_ = waitPrepared()
		if g != nil {
			g.close()
		}
		if init != nil {
			_ = init.Kill()
		}
		// After the kill, which waits: init mounts nothing more. What
		// it mounted on the host goes (mounts.go).
		if mountsBefore != nil {
			if ms, merr := newMountsUnder(mountsBefore, pb.rootfs.Root); merr == nil {
				_ = unmountHostMounts(ms)
			}
		}
		if cg != nil {
			_ = cg.Destroy()
		}
		_ = os.RemoveAll(dir)
	}()

	// The exec FIFO: init blocks on it until start. Writable by the
	// container's root, which may be an unprivileged host uid.
	fifo := filepath.Join(dir, ExecFifo)
	if err := unix.Mkfifo(fifo, 0o622); err != nil {
		return nil, fmt.Errorf("container %s: exec FIFO: %w", o.ID, err)
	}
	// The umask (022 as a rule) took the group's and others' write bits
	// away: a process of another user (process.user.uid 65534) opens it
	// for writing, after its user switch, as under runc.
	if err := os.Chmod(fifo, 0o622); err != nil {
		return nil, fmt.Errorf("container %s: exec FIFO: %w", o.ID, err)
	}
	if cfg.UserNS {
		if err := os.Chown(fifo, cfg.UIDRange().Base, cfg.GIDRange().Base); err != nil {
			return nil, fmt.Errorf("container %s: exec FIFO: %w", o.ID, err)
		}
	}
	// A terminal that run keeps itself (run_tty.go): the process must
	// not start before run has the master and has given it the size of
	// ours, so the gate stays shut until run's start.
	keepsTerminal := o.keepTerminal && pb != nil && pb.bundle.Spec.Process.Terminal
	if o.openGate && !keepsTerminal {
		fd, err := unix.Open(fifo, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil, fmt.Errorf("container %s: exec FIFO: %w", o.ID, err)
		}
		g = &gate{fifo: fd, pidfd: -1}
	}
	// init's descriptors (InitSpec tells the numbers).
	syncR, syncW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("container %s: sync pipe: %w", o.ID, err)
	}
	defer syncR.Close()
	defer syncW.Close()
	dirFile, err := os.OpenFile(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", o.ID, err)
	}
	defer dirFile.Close()
	cfg.Files = []*os.File{syncW, dirFile}
	var is InitSpec // filled in once the bundle is checked
	if o.ConsoleSocket != "" {
		con, err := connectConsole(o.ConsoleSocket)
		if err != nil {
			return nil, err
		}
		defer con.Close()
		is.ConsoleFD = namespace.FilesFD + len(cfg.Files)
		cfg.Files = append(cfg.Files, con)
	} else if pb != nil && pb.bundle.Spec.Process.Terminal {
		var theirs *os.File
		if console, theirs, err = consolePair(); err != nil { // run_tty.go
			return nil, err
		}
		defer theirs.Close()
		defer func() {
			if err != nil {
				console.Close()
			}
		}()
		is.ConsoleFD = namespace.FilesFD + len(cfg.Files)
		cfg.Files = append(cfg.Files, theirs)
	}
	if o.PreserveFDs > 0 {
		is.PreserveFrom, is.PreserveFDs = namespace.FilesFD+len(cfg.Files), o.PreserveFDs
		for i := 0; i < o.PreserveFDs; i++ {
			cfg.Files = append(cfg.Files, os.NewFile(uintptr(3+i), "preserved-"+strconv.Itoa(3+i)))
		}
	}
	stdio := namespace.Stdio{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}
	if o.Stdio != nil {
		stdio = *o.Stdio
	}
	cfg.Detached = !o.Foreground
	// A bundle's container never takes an init started ahead of need:
	// it has descriptors of its own (the sync pipe, the FIFO's
	// directory), which only a fork can give.
	cfg.NoPrestart = true
	// Init runs without glibc's restartable sequences. When the Go
	// runtime starts a thread of init (through pthread_create: the
	// binary links cgo, for final/nsenter) while init is being moved
	// into its cgroup, the new thread's rseq registration may fail, and
	// glibc 2.36 ends the process for it ("Fatal glibc error: rseq
	// registration failed"; the conformance suite's cgroup programs hit
	// it under load). Init lives for milliseconds and has no use for
	// rseq; the process, executed with process.env, has it again.
	cfg.InitEnv = append([]string{"GLIBC_TUNABLES=glibc.pthread.rseq=0"}, initTuning...)
	if exe, err := readonlyExe(); err == nil { // tuning_exe.go
		defer exe.Close()
		cfg.Exe = exe
	}

	if init, err = namespace.Start(cfg, stdio); err != nil {
		return nil, fmt.Errorf("container %s: %w", o.ID, err)
	}
	if err = waitPrepared(); err != nil {
		return nil, err
	}
	if early && pb.bundle.Spec.Process.Terminal {
		// forkConfig saw no terminal: init has no console descriptor.
		return nil, fmt.Errorf("container %s: config.json: process.terminal read two ways", o.ID)
	}
	if early && !sameFork(cfg, pb.cfg) {
		// forkConfig read config.json otherwise than the whole
		// decoding: init is forked again, as the bundle says.
		_ = init.Kill()
		init = nil
		old := cfg
		cfg = pb.cfg
		cfg.Files, cfg.Exe, cfg.Detached, cfg.NoPrestart, cfg.InitEnv = old.Files, old.Exe, old.Detached, old.NoPrestart, old.InitEnv
		if cfg.UserNS {
			if err = os.Chown(fifo, cfg.UIDRange().Base, cfg.GIDRange().Base); err != nil {
				return nil, fmt.Errorf("container %s: exec FIFO: %w", o.ID, err)
			}
		}
		if init, err = namespace.Start(cfg, stdio); err != nil {
			return nil, fmt.Errorf("container %s: %w", o.ID, err)
		}
	}
	syncW.Close() // init has its copy: EOF on syncR means init is done with it
	b, spec, p, rfs := pb.bundle, pb.bundle.Spec, pb.bundle.Spec.Process, pb.rootfs
	is.Spec = pb.nsSpec
	is.ID = o.ID
	is.Bundle = b.Dir
	is.Annotations = spec.Annotations
	is.Domainname = spec.Domainname
	is.Rootfs = rfs
	is.Security = pb.security
	is.Terminal = p.Terminal
	is.ConsoleSize = p.ConsoleSize
	is.NoNewKeyring = o.NoNewKeyring
	if spec.Hooks != nil {
		is.CreateContainer = spec.Hooks.CreateContainer
		is.StartContainer = spec.Hooks.StartContainer
	}
	pid := init.Pid()
	if g != nil {
		// Init is this process's child: its PID cannot be reused
		// before this process reaps it.
		if g.pidfd, err = unix.PidfdOpen(pid, 0); err != nil {
			return nil, fmt.Errorf("container %s: pidfd of init %d: %w", o.ID, pid, err)
		}
	}
	// Into the cgroup before init reads its spec: everything it does
	// from there on is accounted and limited, and the cgroup namespace
	// it makes in Setup is rooted there.
	if err = cg.Add(pid); err != nil {
		return nil, fmt.Errorf("container %s: %w", o.ID, err)
	}
	start, err := ProcStart(pid)
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", o.ID, err)
	}
	rec := &Record{
		ID:          o.ID,
		Bundle:      b.Dir,
		Rootfs:      rfs.Root,
		Pid:         pid,
		InitStart:   start,
		Created:     time.Now().UTC(),
		CgroupPaths: cg.Dirs(),
		Annotations: spec.Annotations,
		Config:      b.Config,
	}
	// createRuntime and prestart hooks: the namespaces exist, init has
	// not done anything in them yet (hooks.go).
	if h := spec.Hooks; h != nil {
		st := hookState(o.ID, Creating, pid, b.Dir, spec.Annotations)
		if err = runHooks(hookPrestart, h.Prestart, st); err != nil {
			return nil, fmt.Errorf("container %s: %w", o.ID, err)
		}
		if err = runHooks(hookCreateRuntime, h.CreateRuntime, st); err != nil {
			return nil, fmt.Errorf("container %s: %w", o.ID, err)
		}
	}
	is.Pid = pid
	if rfs.HostMountNS {
		// The last moment before init mounts anything: it waits for
		// its spec. The hooks above ran on the host; what they
		// mounted is theirs, not the container's.
		if mountsBefore, err = readMounts(); err != nil {
			return nil, fmt.Errorf("container %s: %w", o.ID, err)
		}
	}
	if err = init.SendSpec(&is); err != nil {
		return nil, fmt.Errorf("container %s: %w", o.ID, err)
	}
	// Init sets the container up and reports on the sync pipe: ready
	// (it waits on the exec FIFO now), or why it failed.
	msg, rerr := io.ReadAll(syncR)
	if rerr != nil {
		return nil, fmt.Errorf("container %s: reading init's report: %w", o.ID, rerr)
	}
	if string(msg) != readyMsg {
		if len(msg) == 0 {
			return nil, fmt.Errorf("container %s: init exited before the container was set up", o.ID)
		}
		return nil, fmt.Errorf("container %s: %s", o.ID, strings.TrimPrefix(string(msg), "berth-runtime init: "))
	}
	if mountsBefore != nil {
		// Init is ready, its mounts are all made: write them down
		// for delete, before the record that makes the container
		// exist.
		ms, err := newMountsUnder(mountsBefore, rfs.Root)
		if err != nil {
			return nil, fmt.Errorf("container %s: %w", o.ID, err)
		}
		if err := saveHostMounts(dir, ms); err != nil {
			return nil, fmt.Errorf("container %s: %w", o.ID, err)
		}
	}
	if err = rec.Save(root); err != nil {
		return nil, err
	}
	if o.PidFile != "" {
		if err = writePidFile(o.PidFile, pid); err != nil {
			return nil, fmt.Errorf("container %s: %w", o.ID, err)
		}
	}
	rc := &recordedConfig{Hooks: spec.Hooks}
	if rc.Hooks == nil {
		rc.Hooks = &specs.Hooks{}
	}
	rc.Linux = &struct {
		CgroupsPath string `json:"cgroupsPath"`
	}{spec.Linux.CgroupsPath}
	return &Container{Record: rec, Init: init, config: rc, gate: g, console: console}, nil
}

// checkedBundle is a bundle decoded and checked, and translated into
// what init is forked with and sent: chapter 01's Config and Spec, R4's
// Rootfs, R2's Security. prepareBundle (tuning_start.go) adds the
// cgroup.
type checkedBundle struct {
	bundle   *Bundle
	cfg      namespace.Config
	nsSpec   namespace.Spec
	rootfs   *Rootfs
	security *Security
}

// checkBundle decodes the bundle's config.json, refuses what berth does
// not apply, and translates the rest.
func checkBundle(dir string, raw []byte, o CreateOptions) (*checkedBundle, error) {
	b, err := parseBundle(dir, raw)
	if err != nil {
		return nil, err
	}
	spec := b.Spec
	cfg, nsSpec, err := namespaceConfig(spec)
	if err != nil {
		return nil, err
	}
	rfs, err := NewRootfs(spec, b.Dir, o.NoPivot)
	if err != nil {
		return nil, err
	}
	sec, err := NewSecurity(spec)
	if err != nil {
		return nil, err
	}
	// The new mount namespace becomes a slave of the host's (or what
	// linux.rootfsPropagation asks) rather than chapter 01's private,
	// as runc does: a mount the host makes later then still reaches a
	// volume that asked for rslave or rshared (Kubernetes'
	// HostToContainer and Bidirectional mount propagation). Nothing
	// made inside goes out: a slave only receives.
	nsSpec.Propagation = unix.MS_SLAVE | unix.MS_REC
	if rfs.Propagation != 0 {
		nsSpec.Propagation = uintptr(rfs.Propagation)
	}
	if rfs.HostMountNS {
		nsSpec.Propagation = 0 // the host's mounts: Setup leaves them be (HostMounts)
	}
	p := spec.Process
	switch {
	case p.Terminal && o.ConsoleSocket == "" && !o.keepTerminal:
		return nil, errors.New("process.terminal: needs --console-socket (where the terminal's master is sent), or run in the foreground")
	case !p.Terminal && o.ConsoleSocket != "":
		return nil, errors.New("--console-socket: given for a process without process.terminal")
	case o.PreserveFDs < 0:
		return nil, fmt.Errorf("--preserve-fds %d: negative", o.PreserveFDs)
	}
	return &checkedBundle{bundle: b, cfg: cfg, nsSpec: nsSpec, rootfs: rfs, security: sec}, nil
}

// writePidFile writes init's PID, whole or not at all: the caller
// (containerd's shim) reads the file as soon as create returns.
func writePidFile(path string, pid int) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("--pid-file %s: %w", path, err)
	}
	if err := atomicfile.WriteFile(abs, []byte(strconv.Itoa(pid)), atomicfile.Options{Perm: 0o644}); err != nil {
		return fmt.Errorf("--pid-file: %w", err)
	}
	return nil
}

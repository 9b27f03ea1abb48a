// Command berthd is berth's daemon: it serves the Docker Engine API on a
// unix socket, so that the berth client and the docker client can drive
// it, and keeps containers and images under its data root.
//
//	berthd [-H unix:///run/berth/berth.sock] [--data-root /var/lib/berth] [--exec-root /run/berth] [--cgroup-parent berth]
//	berthd --rootless [--rootless-net slirp4netns|none]   (as an ordinary user: final/rootless)
//
// It runs in the foreground; `service berth start` (final/service) runs it
// in the background. Containers run under per-container shims (chapter
// 07), so stopping or killing berthd stops no container: the next berthd
// over the same data root finds them running.
//
// The binary plays four parts. Started by you, it is the daemon. Started
// by the daemon, it is a container's shim (daemon.Runtime.Main), a
// container's init (namespace.IsInit), or, for exec, a process entering a
// container (package nsenter, whose C constructor acts before main).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/berth-project/berth/01-namespaces/namespace"
	"github.com/berth-project/berth/03-rootfs/seccomp"
	"github.com/berth-project/berth/05-network/network"
	"github.com/berth-project/berth/final/api"
	"github.com/berth-project/berth/final/daemon"
	_ "github.com/berth-project/berth/final/nsenter" // exec: its constructor enters containers
	"github.com/berth-project/berth/final/rootless"
)

// Version is set at build time (-ldflags -X main.Version=...).
var Version = "dev"

func main() {
	// Whoever started us may have left signals ignored (nohup: SIGHUP; a
	// script's background job: SIGINT, SIGQUIT). Ignored signals stay
	// ignored through fork and execve, down to every container and exec.
	namespace.UnignoreSignals()
	daemon.Runtime.Main() // a shim: supervise one container, then exit
	if namespace.IsInit() {
		os.Exit(daemon.Init()) // a container's init
	}
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "berthd: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	// A rootless berthd starts twice more, in its namespaces; the
	// second of those is the daemon (final/rootless's doc.go).
	inside, err := rootless.Enter()
	if err != nil {
		return err
	}
	fs := flag.NewFlagSet("berthd", flag.ContinueOnError)
	var host, pidfile string
	var opts daemon.Options
	fs.StringVar(&host, "H", "unix://"+api.DefaultSocket, "the socket to serve the API on (unix://PATH)")
	fs.StringVar(&host, "host", "unix://"+api.DefaultSocket, "the socket to serve the API on (unix://PATH)")
	fs.StringVar(&opts.DataRoot, "data-root", daemon.DefaultDataRoot, "where containers, images and network leases are kept")
	fs.StringVar(&opts.ExecRoot, "exec-root", daemon.DefaultExecRoot, "where runtime files are kept")
	fs.StringVar(&opts.Bridge, "bridge", "", "the default bridge's name (default berth0)")
	fs.StringVar(&opts.Subnet, "subnet", "", "the default bridge's subnet (default 10.88.0.0/16)")
	fs.StringVar(&opts.UsernsRemap, "userns-remap", "", "run containers in a user namespace of a user's subordinate ids: default (the user "+daemon.DefaultRemapUser+") or USER[:GROUP]")
	fs.StringVar(&opts.CgroupParent, "cgroup-parent", "", "the parent cgroup of the containers' cgroups, relative to the hierarchies' roots (default: berth for the default data root, berth-<hash of the data root> for another)")
	fs.BoolVar(&opts.FavorDynMods, "cgroup-favordynmods", false, "remount the host's cgroup2 with favordynmods, a host-wide setting that may speed up container starts")
	fs.StringVar(&pidfile, "pidfile", "", "write the daemon's PID to this file")
	rootlessMode := fs.Bool("rootless", false, "run as an ordinary user, in a user namespace of its own; state under $XDG_RUNTIME_DIR/berth and ~/.local/share/berth")
	rootlessNet := fs.String("rootless-net", rootless.NetSlirp4netns, "a rootless daemon's network: slirp4netns or none")
	fs.Func("seccomp-profile", "the containers' default seccomp profile: a JSON file, unconfined or builtin (default: Docker's)", func(arg string) error {
		p, err := seccomp.ReadProfile(arg)
		opts.SeccompProfile = p
		return err
	})
	fs.Func("insecure-registry", "a registry (host[:port] or CIDR) reached over plain HTTP or unverified HTTPS; repeatable (127.0.0.0/8 always is)", func(arg string) error {
		opts.InsecureRegistries = append(opts.InsecureRegistries, arg)
		return nil
	})
	fs.Func("registry-mirror", "a mirror (URL) tried before Docker Hub for its images; repeatable", func(arg string) error {
		if !strings.HasPrefix(arg, "http://") && !strings.HasPrefix(arg, "https://") {
			return fmt.Errorf("invalid mirror %q: a URL with http:// or https://", arg)
		}
		opts.RegistryMirrors = append(opts.RegistryMirrors, arg)
		return nil
	})
	debug := fs.Bool("debug", false, "log every request, and each container start's kernel-facing steps (explain)")
	version := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if *version {
		fmt.Printf("berthd version %s\n", Version)
		return nil
	}
	if !*rootlessMode && flagSet(fs, "rootless-net") {
		return errors.New("--rootless-net is for a rootless daemon: add --rootless")
	}
	if *rootlessMode {
		if err := rootlessDefaults(fs, &host, &opts); err != nil {
			return err
		}
		ro := rootless.Options{Net: *rootlessNet, Args: args, ExecRoot: opts.ExecRoot}
		if !inside {
			code, err := rootless.Run(ro)
			if err != nil {
				return err
			}
			os.Exit(code)
		}
		if err := rootless.Setup(ro.Net, ro.ExecRoot); err != nil {
			return err
		}
		opts.Rootless = true
		// The host-wide subnet lock guards the host's routes; this
		// namespace's routes are its own, and the lock (in /tmp,
		// root's) may not even be open to this user.
		network.SubnetLockPath = filepath.Join(opts.ExecRoot, "subnets.lock")
		if ro.Net == rootless.NetSlirp4netns {
			opts.PortForwarder = rootless.APISocket(opts.ExecRoot)
		}
	}
	path, ok := strings.CutPrefix(host, "unix://")
	if !ok {
		return fmt.Errorf("-H %s: only unix:// sockets are served", host)
	}
	opts.Version = Version

	level := slog.LevelInfo
	if *debug {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	if *debug {
		opts.Explain = logger // each container start's explain trace, step by step
	}

	d, err := daemon.New(opts)
	if err != nil {
		return err
	}
	l, err := api.ListenUnix(path)
	if err != nil {
		return err
	}
	if pidfile != "" {
		if err := os.WriteFile(pidfile, []byte(fmt.Sprintf("%d\n", os.Getpid())), 0o644); err != nil {
			return fmt.Errorf("pid file: %w", err)
		}
		defer os.Remove(pidfile)
	}
	srv := api.NewServer(d, api.Options{Version: Version, Logger: logger})

	// TERM or INT stops serving; the containers go on under their shims.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		sig := <-sigs
		logger.Info("shutting down", "signal", sig.String())
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}()
	logger.Info("serving the Docker Engine API", "socket", path, "api", api.DefaultAPIVersion, "data-root", opts.DataRoot, "cgroup-parent", d.CgroupParent())
	return srv.Serve(l)
}

// rootlessDefaults puts a rootless daemon's state in the user's places
// (rootless.DefaultDirs), for each of -H, --data-root and --exec-root
// the user did not give.
func rootlessDefaults(fs *flag.FlagSet, host *string, opts *daemon.Options) error {
	dirs, err := rootless.DefaultDirs()
	if err != nil {
		return err
	}
	if !flagSet(fs, "H") && !flagSet(fs, "host") {
		*host = "unix://" + dirs.Socket
	}
	if !flagSet(fs, "data-root") {
		opts.DataRoot = dirs.DataRoot
	}
	if !flagSet(fs, "exec-root") {
		opts.ExecRoot = dirs.ExecRoot
	}
	return nil
}

// flagSet reports whether the command line gave the flag name.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

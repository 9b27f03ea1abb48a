package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/01-namespaces/namespace"
	"github.com/berth-project/berth/04-cow-layers/layer"
	"github.com/berth-project/berth/05-network/network"
	"github.com/berth-project/berth/07-logs/logs"
	"github.com/berth-project/berth/07-logs/shim"
)

// run creates a container and starts it under a shim. With -d it prints
// the container's ID and returns; without, it stays attached: it streams
// the container's output as the shim logs it, passes stdin on with -i, and
// returns the container's exit status.
func run(args []string, stdio namespace.Stdio) (int, error) {
	var o network.RunOptions
	var detach, interactive bool
	var name string
	var logOpts logs.Options
	fs := namespace.FlagSet("run")
	o.AddFlags(fs)
	fs.BoolVar(&detach, "d", false, "run in the background and print the container's ID")
	fs.BoolVar(&interactive, "i", false, "keep stdin open and pass this command's stdin to it")
	fs.StringVar(&name, "name", "", "the container's name (default: a generated one)")
	logOpts.AddFlags(fs)
	command, err := namespace.ParseCommand(fs, args)
	if err != nil {
		return 0, err
	}
	if o.FS.Root != "" { // chapter 03's --rootfs is a one-layer image
		if len(o.Layer.Image) > 0 {
			return 0, errors.New("--rootfs and --image both given: --rootfs DIR means --image DIR, give one")
		}
		if err := o.Layer.Image.Set(o.FS.Root); err != nil {
			return 0, err
		}
		o.FS.Root = ""
	}
	if len(o.Layer.Image) == 0 {
		return 0, errors.New("no image: give --image DIR[:DIR...]")
	}
	if err := logOpts.Validate(); err != nil {
		return 0, err
	}
	store, err := shim.OpenStore(o.Layer.Root)
	if err != nil {
		return 0, err
	}
	if name != "" {
		if err := shim.CheckName(name); err != nil {
			return 0, err
		}
		if _, err := store.Get(name); err == nil {
			return 0, fmt.Errorf("%w: %q; remove that container or choose another name", shim.ErrNameInUse, name)
		}
	}

	// The container's writable layer: made once, kept until rm.
	id := namespace.NewID()
	rw, err := layer.Create(o.Layer.Root, id, o.Layer.Image)
	if err != nil {
		return 0, err
	}
	spec, err := json.Marshal(o) // the flags of chapters 01-05, for the shim
	if err != nil {
		return 0, errors.Join(err, rw.Remove())
	}
	c, err := store.Create(shim.Config{
		ID: id, Name: name, Image: o.Layer.Image.String(), Command: command,
		Interactive: interactive, Log: logOpts, Spec: spec, Explain: o.Config.Explain,
	})
	if err != nil {
		return 0, errors.Join(err, rw.Remove())
	}
	if detach {
		if _, err := engine.StartContainer(c); err != nil {
			return 0, err
		}
		printExplained(c, stdio.Err)
		fmt.Fprintln(stdio.Out, c.ID())
		return 0, nil
	}
	return startAttached(c, stdio, interactive)
}

// startAttached starts c and stays with it to the end: what the shim logs
// is copied to stdout and stderr as it comes, and with stdin, this
// command's stdin goes to the container. Ctrl-C and kill are passed on to
// the container, as docker run does.
func startAttached(c *shim.Container, stdio namespace.Stdio, stdin bool) (int, error) {
	// Open the log before the container starts, at its current end:
	// exactly this run's output follows.
	r, err := logs.NewReader(c.LogPath(), logs.ReadOptions{Tail: 0, Follow: true, Alive: c.Running})
	if err != nil {
		return 0, err
	}
	defer r.Close()
	if _, err := engine.StartContainer(c); err != nil {
		return 0, err
	}
	printExplained(c, stdio.Err)
	if stdin && stdio.In != nil {
		go feedStdin(c, stdio.In)
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, unix.SIGINT, unix.SIGTERM, unix.SIGHUP)
	defer signal.Stop(sigs)
	go func() {
		for sig := range sigs {
			_ = c.Signal(sig.(syscall.Signal))
		}
	}()
	out := &logs.Output{Stdout: writerOrDiscard(stdio.Out), Stderr: writerOrDiscard(stdio.Err)}
	if err := r.Read(context.Background(), out.Write, out.Flush); err != nil {
		return 0, err
	}
	st, err := c.Wait(time.Minute)
	if err != nil {
		return 0, err
	}
	return st.ExitCode, nil
}

func writerOrDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// feedStdin copies in to the container's stdin FIFO, where the shim reads
// it, and closes the FIFO at the end of in: the container's stdin ends.
func feedStdin(c *shim.Container, in io.Reader) {
	var f *os.File
	for c.Running() {
		// Non-blocking open: it fails (ENXIO) until the shim has the
		// FIFO open for reading, instead of hanging if it never will.
		var err error
		f, err = os.OpenFile(filepath.Join(c.Dir(), "stdin"), os.O_WRONLY|unix.O_NONBLOCK, 0)
		if err == nil {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	if f == nil {
		return
	}
	defer f.Close()
	_, _ = io.Copy(f, in)
}

// parse starts every command but run: its flags, --root, and the
// arguments left (the containers' names).
func parse(name string, args []string, setup func(fs *flag.FlagSet)) (*shim.Store, []string, error) {
	var root string
	fs := namespace.FlagSet(name)
	layer.AddRootFlag(fs, &root)
	if setup != nil {
		setup(fs)
	}
	if err := fs.Parse(args); err != nil {
		return nil, nil, err
	}
	store, err := shim.OpenStore(root)
	return store, fs.Args(), err
}

// logsCmd prints a container's log, as docker logs does (S35): stdout and
// stderr to this command's, all of it or the last N lines, then with -f
// what comes next until the container stops.
func logsCmd(args []string, stdio namespace.Stdio) (int, error) {
	var follow, timestamps, stdin bool
	var tail, since string
	store, names, err := parse("logs", args, func(fs *flag.FlagSet) {
		fs.BoolVar(&follow, "f", false, "follow the log until the container stops")
		fs.BoolVar(&follow, "follow", false, "same as -f")
		fs.BoolVar(&timestamps, "t", false, "prefix each line with its time (RFC 3339)")
		fs.BoolVar(&timestamps, "timestamps", false, "same as -t")
		fs.StringVar(&tail, "tail", "all", "how many lines from the end, or all")
		fs.StringVar(&since, "since", "", "only lines since TIME: RFC 3339, or a duration before now (10m)")
		fs.BoolVar(&stdin, "stdin", false, "also show what was written to the container's stdin")
	})
	if err != nil {
		return 0, err
	}
	c, err := one(store, names, "logs [-f] [-t] [--tail N|all] NAME")
	if err != nil {
		return 0, err
	}
	opts := logs.ReadOptions{Tail: logs.All, Follow: follow, Alive: c.Running}
	if tail != "all" {
		if opts.Tail, err = strconv.Atoi(tail); err != nil || opts.Tail < 0 {
			return 0, fmt.Errorf("--tail %q: want a number of lines or all", tail)
		}
	}
	if opts.Since, err = parseSince(since); err != nil {
		return 0, err
	}
	out := &logs.Output{Stdout: writerOrDiscard(stdio.Out), Stderr: writerOrDiscard(stdio.Err), Timestamps: timestamps}
	if stdin {
		out.Stdin = out.Stdout
	}
	return 0, logs.Copy(context.Background(), c.LogPath(), opts, out)
}

// parseSince reads --since: a time in RFC 3339, or a duration back from now.
func parseSince(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return time.Now().Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("--since %q: want a time (2006-01-02T15:04:05Z) or a duration (10m)", s)
	}
	return t, nil
}

// ps lists the running containers, or all of them with -a.
func ps(args []string, stdio namespace.Stdio) (int, error) {
	var all bool
	store, names, err := parse("ps", args, func(fs *flag.FlagSet) {
		fs.BoolVar(&all, "a", false, "show all containers, not only the running ones")
	})
	if err != nil {
		return 0, err
	}
	if len(names) > 0 {
		return 0, errors.New("ps takes no arguments: ps [-a]")
	}
	list, err := store.List()
	if err != nil {
		return 0, err
	}
	w := tabwriter.NewWriter(writerOrDiscard(stdio.Out), 0, 8, 3, ' ', 0)
	fmt.Fprintln(w, "CONTAINER ID\tIMAGE\tCOMMAND\tCREATED\tSTATUS\tNAMES")
	for _, c := range list {
		st, err := c.State()
		if err != nil {
			return 0, err
		}
		if !all && st.Status != shim.Running {
			continue
		}
		fmt.Fprintf(w, "%s\t%s\t%q\t%s ago\t%s\t%s\n", namespace.ShortID(c.ID()), filepath.Base(c.Config.Image),
			clip(strings.Join(c.Config.Command, " "), 20), ago(c.Config.Created), status(st), c.Name())
	}
	return 0, w.Flush()
}

// status describes a state as docker ps does: "Up 5 seconds", "Exited (0)
// 2 minutes ago".
func status(st shim.State) string {
	switch st.Status {
	case shim.Running:
		return "Up " + ago(st.StartedAt)
	case shim.Exited:
		s := fmt.Sprintf("Exited (%d) %s ago", st.ExitCode, ago(st.FinishedAt))
		if st.OOMKilled {
			s += ", out of memory"
		}
		return s
	case shim.Dead:
		return "Dead"
	}
	return "Created"
}

func ago(t time.Time) string {
	d := time.Since(t)
	switch {
	case d < time.Second:
		return "less than a second"
	case d < time.Minute:
		return plural(int(d.Seconds()), "second")
	case d < time.Hour:
		return plural(int(d.Minutes()), "minute")
	case d < 48*time.Hour:
		return plural(int(d.Hours()), "hour")
	}
	return plural(int(d.Hours()/24), "day")
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

// stop stops containers: SIGTERM, then SIGKILL after -t seconds (S28).
func stop(args []string, stdio namespace.Stdio) (int, error) {
	var seconds int
	store, names, err := parse("stop", args, func(fs *flag.FlagSet) {
		fs.IntVar(&seconds, "t", 10, "seconds to wait for the container to exit before killing it")
	})
	if err != nil {
		return 0, err
	}
	return each(store, names, "stop [-t SECONDS] NAME...", stdio, func(c *shim.Container) error {
		_, err := c.Stop(time.Duration(seconds) * time.Second)
		return err
	})
}

// kill sends a signal to containers' init, SIGKILL by default (S28).
func kill(args []string, stdio namespace.Stdio) (int, error) {
	var name string
	store, names, err := parse("kill", args, func(fs *flag.FlagSet) {
		fs.StringVar(&name, "s", "KILL", "the signal: a name (TERM, SIGTERM) or a number")
	})
	if err != nil {
		return 0, err
	}
	sig, err := shim.ParseSignal(name)
	if err != nil {
		return 0, err
	}
	return each(store, names, "kill [-s SIGNAL] NAME...", stdio, func(c *shim.Container) error {
		return c.Signal(sig)
	})
}

// start starts a stopped container again (S27): same ID, same layer, its
// log appended to. With -a it stays attached to the output, with -i to
// stdin as well (if the container was created with -i); otherwise it
// prints the name and returns.
func start(args []string, stdio namespace.Stdio) (int, error) {
	var attach, interactive bool
	store, names, err := parse("start", args, func(fs *flag.FlagSet) {
		fs.BoolVar(&attach, "a", false, "attach to the container's output and return its exit status")
		fs.BoolVar(&interactive, "i", false, "attach stdin too (implies -a)")
	})
	if err != nil {
		return 0, err
	}
	c, err := one(store, names, "start [-a] [-i] NAME")
	if err != nil {
		return 0, err
	}
	if attach || interactive {
		return startAttached(c, stdio, interactive && c.Config.Interactive)
	}
	if _, err := engine.StartContainer(c); err != nil {
		return 0, err
	}
	fmt.Fprintln(writerOrDiscard(stdio.Out), names[0])
	return 0, nil
}

// rm removes containers; a running one only with -f (S29).
func rm(args []string, stdio namespace.Stdio) (int, error) {
	var force bool
	store, names, err := parse("rm", args, func(fs *flag.FlagSet) {
		fs.BoolVar(&force, "f", false, "kill a running container first")
	})
	if err != nil {
		return 0, err
	}
	return each(store, names, "rm [-f] NAME...", stdio, func(c *shim.Container) error {
		return engine.RemoveContainer(c, force)
	})
}

// top lists a container's processes as the host sees them (S36).
func top(args []string, stdio namespace.Stdio) (int, error) {
	store, names, err := parse("top", args, nil)
	if err != nil {
		return 0, err
	}
	c, err := one(store, names, "top NAME")
	if err != nil {
		return 0, err
	}
	procs, err := c.Top()
	if err != nil {
		return 0, err
	}
	w := tabwriter.NewWriter(writerOrDiscard(stdio.Out), 0, 8, 2, ' ', 0)
	fmt.Fprintln(w, "UID\tPID\tPPID\tCPID\tSTAT\tCMD")
	for _, p := range procs {
		fmt.Fprintf(w, "%d\t%d\t%d\t%d\t%s\t%s\n", p.UID, p.PID, p.PPID, p.CPID, p.Stat, p.Cmd)
	}
	return 0, w.Flush()
}

// one finds the single container a command takes.
func one(store *shim.Store, names []string, usage string) (*shim.Container, error) {
	if len(names) != 1 {
		return nil, errors.New("want one container: " + usage)
	}
	return store.Get(names[0])
}

// each applies f to every named container, printing each name as given
// when it succeeded, as docker stop, kill and rm do. It goes on after a
// failure and returns the first error.
func each(store *shim.Store, names []string, usage string, stdio namespace.Stdio, f func(*shim.Container) error) (int, error) {
	if len(names) == 0 {
		return 0, errors.New("want at least one container: " + usage)
	}
	var first error
	for _, name := range names {
		c, err := store.Get(name)
		if err == nil {
			err = f(c)
		}
		if err != nil {
			if first == nil {
				first = err
			} else {
				fmt.Fprintf(writerOrDiscard(stdio.Err), "07-logs: %v\n", err)
			}
			continue
		}
		fmt.Fprintln(writerOrDiscard(stdio.Out), name)
	}
	return 0, first
}

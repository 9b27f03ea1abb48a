package namespace

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
	"strings"
)

// Program is a chapter's command-line program. Every chapter's main.go is
// one: a name, its subcommands, and the code that runs inside the
// container as its init. Main picks the side: the same binary is started
// once by the user and once, re-executed by Start, as the container's init.
type Program struct {
	Name     string
	Usage    string                                               // the usage line(s), printed on errors and -h
	Commands map[string]func(args []string, s Stdio) (int, error) // "run", and later "logs", "ps", ...
	Init     func() int                                           // the container side; its result is init's exit status
}

// Main runs the program and exits: as init if Start re-executed it,
// otherwise as the command line asks.
func (p Program) Main() {
	if IsInit() {
		os.Exit(p.Init())
	}
	os.Exit(p.Run(os.Args[1:], Stdio{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}))
}

// Run runs one subcommand and returns the exit status. An error of the
// program's own (a bad flag, no such image) is one line on stderr and
// status 125, as with `docker run`; otherwise the status is the
// container's.
func (p Program) Run(args []string, s Stdio) int {
	if s.Err == nil {
		s.Err = io.Discard
	}
	if len(args) == 0 || p.Commands[args[0]] == nil {
		if len(args) > 0 && args[0] != "-h" && args[0] != "--help" {
			fmt.Fprintf(s.Err, "%s: unknown command %q (commands: %s)\n", p.Name, args[0], p.commandNames())
			return 125
		}
		fmt.Fprintln(s.Err, p.Usage)
		if len(args) == 0 {
			return 125
		}
		return 0
	}
	status, err := p.Commands[args[0]](args[1:], s)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(s.Err, p.Usage)
		return 0
	}
	if err != nil {
		fmt.Fprintf(s.Err, "%s: %v\n", p.Name, err)
		return 125
	}
	return status
}

func (p Program) commandNames() string {
	names := make([]string, 0, len(p.Commands))
	for n := range p.Commands {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// FlagSet is a flag set for a subcommand that reports errors instead of
// printing usage and exiting: Program.Run prints them as one line.
func FlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// ParseCommand parses args with fs and returns the command after the
// flags (after "--", or from the first argument that is not a flag).
func ParseCommand(fs *flag.FlagSet, args []string) ([]string, error) {
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() == 0 {
		return nil, errors.New("no command given: " + fs.Name() + " [FLAGS] -- CMD [ARG...]")
	}
	return fs.Args(), nil
}

// In the container's init, the main goroutine stays on the main thread,
// from before main starts (a package's init runs there): the cgroup
// namespace and the capabilities that init changes belong to one thread,
// and /proc/PID/ns/*, which an exec enters, shows the main thread's, the
// one whose thread ID is the PID. Init and InitWith lock again, for
// inits that a test started some other way.
func init() {
	if IsInit() {
		runtime.LockOSThread()
	}
}

// Init is the container side of chapter 01, and the pattern of every later
// chapter's: wait for the spec, set up the namespaces from inside, mount a
// /proc that shows this PID namespace, and run the command.
func Init() int {
	// Setup unshares the cgroup namespace, which only this thread then
	// has: stay on it until the command is started.
	runtime.LockOSThread()
	var spec Spec
	if err := ReadSpec(&spec); err != nil {
		return InitFailed(err)
	}
	if err := Setup(spec); err != nil {
		return InitFailed(err)
	}
	// This mount namespace still has the host's files, /proc included. A
	// new proc instance shows only this PID namespace's processes.
	if err := MountProc("/proc"); err != nil {
		return InitFailed(err)
	}
	if err := RunAfterEnter(); err != nil {
		return InitFailed(err)
	}
	return Run(spec)
}

// Entering is a container-side spec of a later chapter: chapter 01's spec,
// embedded, plus steps that run between Setup and Run (chapter 03 enters
// the root filesystem, chapter 04 mounts the layers first).
type Entering interface {
	NamespaceSpec() Spec
	Enter() error
}

// NamespaceSpec returns s itself; through embedding, it gives a later
// chapter's spec its chapter 01 part.
func (s Spec) NamespaceSpec() Spec { return s }

// InitWith is the init of a later chapter whose spec type is S: read the
// spec, Setup, the chapter's Enter, Run.
//
//	func Init() int { return namespace.InitWith[InitSpec]() }
func InitWith[S any, P interface {
	*S
	Entering
}]() int {
	// Capabilities, which chapter 03 drops, belong to threads. When the
	// binary links cgo, Go cannot change every thread at once, so only
	// this one changes: stay on it until the command is executed.
	runtime.LockOSThread()
	var s S
	spec := P(&s)
	if err := ReadSpec(spec); err != nil {
		return InitFailed(err)
	}
	if err := Setup(spec.NamespaceSpec()); err != nil {
		return InitFailed(err)
	}
	if err := spec.Enter(); err != nil {
		return InitFailed(err)
	}
	if err := RunAfterEnter(); err != nil {
		return InitFailed(err)
	}
	return Run(spec.NamespaceSpec())
}

// AfterEnter, if a program sets it in its init, runs inside the
// container once the namespaces and the chapter's Enter are set up (the
// container's /dev is there), just before the command is started. Chapter
// 07 gives the container its terminal here, from the container's own
// devpts.
var AfterEnter func() error

// RunAfterEnter runs AfterEnter, once: InitWith calls it after the
// chapter's Enter, and an Enter may call it earlier itself, as soon as
// its /dev is there (chapter 03 does, before it drops the capabilities
// that a mount needs).
func RunAfterEnter() error {
	f := AfterEnter
	if f == nil {
		return nil
	}
	AfterEnter = nil
	return f()
}

// ExitInitFailed is init's status when it cannot set the container up.
const ExitInitFailed = 125

// InitFailed reports a setup error from inside the container, on the
// container's stderr, and returns ExitInitFailed.
func InitFailed(err error) int {
	fmt.Fprintf(os.Stderr, "%s: %v\n", InitName, err)
	return ExitInitFailed
}

// Command berth-runtime is berth as an OCI runtime: the command line of
// runc, which containerd's io.containerd.runc.v2 shim, dockerd
// (--add-runtime) and therefore Kubernetes call to create, start, signal
// and delete containers from OCI bundles (a directory with config.json
// and a root filesystem). The work is final/ociruntime's, which drives
// the chapters' isolation code; this file is only the command line.
//
//	berth-runtime [--root DIR] [--log FILE] [--log-format text|json] COMMAND [OPTIONS] ID
//
// Each command lives in a file of its own (cmd_*.go) and registers itself
// with register; global flags are in the variable global.
//
// Like berthd, the binary plays more than one part: started by a caller
// it is the runtime; re-executed by itself (namespace.IsInit) it is a
// container's init.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-project/berth/01-namespaces/namespace"
	"github.com/berth-project/berth/final/ociruntime"
)

// Version is set at build time (-ldflags -X main.Version=...).
var Version = "dev"

// DefaultRoot is where container records live unless --root says
// otherwise: a tmpfs, as runc's /run/runc, because no container
// survives a reboot.
const DefaultRoot = "/run/berth-runtime"

// global holds the flags every command shares, as runc spells them:
// containerd's shim passes --root, --log and --log-format json before
// the command name.
var global struct {
	Root          string
	Log           string
	LogFormat     string
	SystemdCgroup bool
	Debug         bool
}

// root is the top command; register adds each command to it.
var root = &cobra.Command{
	Use:   "berth-runtime",
	Short: "berth as an OCI runtime (runc's command line)",
	Long: `berth-runtime runs containers from OCI bundles (a directory with a
config.json and a root filesystem) with the command line of runc, so
that containerd's io.containerd.runc.v2 shim, dockerd (--add-runtime)
and Kubernetes, through containerd's CRI, can use it in runc's place.
The isolation is the course's: chapters 01 to 03 of berth do the
namespaces, cgroups, mounts, capabilities and seccomp that config.json
asks for (docs/oci-runtime.md maps each field to its chapter).

A container is created, then started: create sets everything up and
leaves the process waiting on an exec FIFO under --root; start lets it
run. state, kill and delete follow the OCI runtime spec's life cycle;
exec, ps, pause, resume, update and events are runc's additions.

What berth-runtime does not apply is refused by name at create; what
the spec or the kernel say to ignore is ignored with a warning in the
log (--log).`,
	Version:       Version,
	SilenceUsage:  true,
	SilenceErrors: true,
	PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
		if global.SystemdCgroup {
			// Refused by name rather than ignored: a caller that asks
			// for systemd to own the cgroups would otherwise get
			// cgroupfs paths it does not expect.
			return errors.New("--systemd-cgroup: berth-runtime manages cgroups through cgroupfs only; configure the caller with SystemdCgroup = false")
		}
		switch global.LogFormat {
		case "text", "json":
		default:
			return fmt.Errorf("--log-format %q: must be text or json", global.LogFormat)
		}
		return nil
	},
}

func init() {
	f := root.PersistentFlags()
	f.StringVar(&global.Root, "root", DefaultRoot, "where container state is kept")
	f.StringVar(&global.Log, "log", "", "append errors to this file instead of standard error alone")
	f.StringVar(&global.LogFormat, "log-format", "text", "the log's format: text or json")
	f.BoolVar(&global.SystemdCgroup, "systemd-cgroup", false, "manage cgroups through systemd (not supported: refused)")
	f.BoolVar(&global.Debug, "debug", false, "log debug messages")
	root.SetVersionTemplate("berth-runtime version {{.Version}}\nspec: " + specVersion + "\n")
}

// exitStatus is the status main exits with when the command succeeds:
// run's is its process's.
var exitStatus int

// register adds a command; each cmd_*.go file calls it from its init.
func register(c *cobra.Command) { root.AddCommand(c) }

func main() {
	if namespace.IsInit() {
		os.Exit(containerInit())
	}
	ociruntime.Warn = logWarning
	if err := root.Execute(); err != nil {
		logError(err)
		os.Exit(1)
	}
	os.Exit(exitStatus)
}

// logError reports err on standard error and, with --log, in the log
// file. containerd's shim reads the last JSON line's "msg" from the log
// to say why a command failed, so the JSON form is runc's:
// {"level":"error","msg":"...","time":"..."}.
func logError(err error) {
	fmt.Fprintf(os.Stderr, "berth-runtime: %v\n", err)
	if global.Log == "" {
		return
	}
	f, ferr := os.OpenFile(global.Log, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if ferr != nil {
		fmt.Fprintf(os.Stderr, "berth-runtime: opening the log: %v\n", ferr)
		return
	}
	defer f.Close()
	writeLogLine(f, "error", err.Error())
}

// logWarning reports what did not fail a command (a poststart or
// poststop hook, a property of config.json that is ignored) in the log,
// at level warning; on standard error only without --log. A create's
// standard error is often the container's own (containerd's shim hands
// the runtime the container's stdio): a warning there would turn up in
// the container's logs. runc logs its warnings the same way.
func logWarning(err error) {
	if global.Log == "" {
		fmt.Fprintf(os.Stderr, "berth-runtime: warning: %v\n", err)
		return
	}
	f, ferr := os.OpenFile(global.Log, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if ferr != nil {
		return
	}
	defer f.Close()
	writeLogLine(f, "warning", err.Error())
}

// writeLogLine appends one entry in the log's format.
func writeLogLine(w io.Writer, level, msg string) {
	now := time.Now().UTC().Format(time.RFC3339Nano)
	if global.LogFormat == "json" {
		b, _ := json.Marshal(struct {
			Level string `json:"level"`
			Msg   string `json:"msg"`
			Time  string `json:"time"`
		}{level, msg, now})
		fmt.Fprintf(w, "%s\n", b)
		return
	}
	fmt.Fprintf(w, "time=%q level=%s msg=%q\n", now, level, msg)
}

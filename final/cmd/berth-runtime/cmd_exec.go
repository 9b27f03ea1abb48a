package main

import (
	"errors"
	"os"

	"github.com/spf13/cobra"

	"github.com/berth-project/berth/final/ociruntime"
	// The C constructor that enters a container's namespaces before the
	// Go runtime starts (see final/nsenter's doc.go): it must be linked
	// into this binary, which re-executes itself as the exec's helper.
	_ "github.com/berth-project/berth/final/nsenter"
)

// `exec ID [--process FILE] [ARGS...]`: a new process in a running
// container, with runc's flags (ociruntime.Exec). It exits with the
// process's status unless --detach.
func init() {
	var (
		f               ociruntime.ExecFlags
		o               ociruntime.ExecOptions
		process         string
		tty, noNewPrivs bool
	)
	c := &cobra.Command{
		Use:   "exec ID [--process FILE | ARGS...]",
		Short: "run a new process in a running container",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := args[0]
			f.Args = args[1:]
			if cmd.Flags().Changed("tty") {
				f.Tty = &tty
			}
			if cmd.Flags().Changed("no-new-privs") {
				f.NoNewPrivs = &noNewPrivs
			}
			var doc []byte
			if process != "" {
				b, err := os.ReadFile(process)
				if err != nil {
					return err
				}
				doc = b
			}
			rec, err := ociruntime.Load(global.Root, id)
			if err != nil {
				return err
			}
			spec, err := ociruntime.RecordSpec(rec)
			if err != nil {
				return err
			}
			p, err := ociruntime.ExecProcess(spec, doc, f)
			if err != nil {
				return err
			}
			o.Stdin, o.Stdout, o.Stderr = os.Stdin, os.Stdout, os.Stderr
			status, err := ociruntime.Exec(global.Root, id, p, o)
			if err != nil {
				return err
			}
			if status != 0 {
				os.Exit(status)
			}
			return nil
		},
	}
	// Everything after the ID is the command: its own flags are not
	// berth-runtime's.
	c.Flags().SetInterspersed(false)
	fl := c.Flags()
	fl.StringVarP(&process, "process", "p", "", "a file holding the process as JSON (the runtime spec's process)")
	fl.StringVar(&o.ConsoleSocket, "console-socket", "", "a unix socket that receives the terminal's master (with --tty)")
	fl.StringVar(&f.Cwd, "cwd", "", "the working directory in the container")
	fl.StringArrayVarP(&f.Env, "env", "e", nil, "add KEY=VALUE to the environment")
	fl.BoolVarP(&tty, "tty", "t", false, "give the process a terminal")
	fl.StringVarP(&f.User, "user", "u", "", "UID[:GID] in the container")
	fl.StringArrayVarP(&f.AdditionalGids, "additional-gids", "g", nil, "a supplementary group")
	fl.StringArrayVarP(&f.Caps, "cap", "c", nil, "add a capability")
	fl.BoolVar(&noNewPrivs, "no-new-privs", false, "set no_new_privs for the process")
	fl.BoolVarP(&o.Detach, "detach", "d", false, "return once the process runs")
	fl.StringVar(&o.PidFile, "pid-file", "", "write the process's host PID into this file")
	fl.IntVar(&o.PreserveFDs, "preserve-fds", 0, "pass descriptors 3 to 3+N-1 on (not supported: refused when not 0)")
	fl.StringVar(&f.ProcessLabel, "process-label", "", "an SELinux label (not supported: refused)")
	fl.StringVar(&f.AppArmor, "apparmor", "", "an AppArmor profile (not supported: refused)")
	fl.BoolVar(&o.IgnorePaused, "ignore-paused", false, "exec into a paused container: the process starts at the resume")
	fl.String("cgroup", "", "a sub-cgroup to run the process in (not supported: refused)")
	c.PreRunE = func(cmd *cobra.Command, args []string) error {
		if v, _ := cmd.Flags().GetString("cgroup"); v != "" {
			return errors.New("--cgroup: not supported by berth-runtime exec (the process joins the container's own cgroup)")
		}
		return nil
	}
	register(c)
}

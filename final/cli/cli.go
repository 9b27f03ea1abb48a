package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/final/api"
)

// Version and GitCommit describe this build of berth. The Makefile sets
// them with -ldflags "-X github.com/berth-project/berth/final/cli.Version=...".
var (
	Version   = "dev"
	GitCommit = ""
)

const (
	// DefaultHost is where berthd listens unless told otherwise.
	DefaultHost = "unix://" + api.DefaultSocket
	// HostEnv names the environment variable that overrides DefaultHost,
	// as DOCKER_HOST does for docker. The -H flag overrides both.
	HostEnv = "BERTH_HOST"
)

// CLI is what every command needs: the three standard streams, the
// environment, and a client for the daemon, made on first use so that
// commands which never talk to the daemon (help, docs) work without one.
type CLI struct {
	In  io.Reader
	Out io.Writer
	Err io.Writer
	// Getenv reads the environment; nil means os.Getenv. Tests set it.
	Getenv func(string) string

	host   string
	client *client.Client
}

// New returns a CLI that reads in and writes out and errw.
func New(in io.Reader, out, errw io.Writer) *CLI {
	return &CLI{In: in, Out: out, Err: errw}
}

// Main runs berth with the process's arguments and streams, and returns
// the exit status; cmd/berth passes it to os.Exit.
func Main() int {
	return New(os.Stdin, os.Stdout, os.Stderr).Run(os.Args[1:])
}

// StatusError is an error that carries the exit status of the berth
// process. Status, when not empty, is printed on stderr. A command that
// only needs to pass on a container's exit status leaves Status empty.
type StatusError struct {
	Status     string
	StatusCode int
}

func (e StatusError) Error() string {
	if e.Status == "" {
		return fmt.Sprintf("exit status %d", e.StatusCode)
	}
	return e.Status
}

// Run executes one berth command line (without the program name) and
// returns the process exit status, printing any error on c.Err the way
// docker does: a StatusError's text and code as they are, anything else
// with status 1.
func (c *CLI) Run(args []string) int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	defer c.closeClient()

	root := NewRootCommand(c)
	root.SetArgs(args)
	return c.exitStatus(root.ExecuteContext(ctx))
}

// exitStatus prints err, if it has something to say, and gives the exit
// status for it.
func (c *CLI) exitStatus(err error) int {
	if err == nil {
		return 0
	}
	var st StatusError
	if errors.As(err, &st) {
		if st.Status != "" {
			fmt.Fprintln(c.Err, st.Status)
		}
		if st.StatusCode == 0 {
			return 1
		}
		return st.StatusCode
	}
	fmt.Fprintln(c.Err, c.describe(err))
	return 1
}

// describe rewords the client library's connection errors, which speak
// of "the docker API", to name berthd and the address tried.
func (c *CLI) describe(err error) error {
	if !client.IsErrConnectionFailed(err) {
		return err
	}
	cause := err
	for inner := errors.Unwrap(cause); inner != nil; inner = errors.Unwrap(cause) {
		cause = inner
	}
	if cause == err {
		return fmt.Errorf("Cannot connect to berthd at %s. Is the berth daemon running?", c.Host())
	}
	return fmt.Errorf("Cannot connect to berthd at %s: %v. Is the berth daemon running?", c.Host(), cause)
}

func (c *CLI) getenv(key string) string {
	if c.Getenv != nil {
		return c.Getenv(key)
	}
	return os.Getenv(key)
}

// lookupEnv is getenv that tells unset from empty; with a custom Getenv
// an empty value counts as unset.
func (c *CLI) lookupEnv(key string) (string, bool) {
	if c.Getenv != nil {
		v := c.Getenv(key)
		return v, v != ""
	}
	return os.LookupEnv(key)
}

// Host is the daemon address this CLI talks to: the -H flag, else
// $BERTH_HOST, else DefaultHost.
func (c *CLI) Host() string {
	if c.host != "" {
		return c.host
	}
	if h := c.getenv(HostEnv); h != "" {
		return h
	}
	return DefaultHost
}

// Client returns the API client, creating it on first use. It speaks the
// Docker Engine API and negotiates the version with the daemon on the
// first request (berthd advertises 1.41).
func (c *CLI) Client() (*client.Client, error) {
	if c.client != nil {
		return c.client, nil
	}
	host := c.Host()
	cl, err := client.New(
		client.WithHost(host),
		client.WithUserAgent("berth-cli/"+Version),
	)
	if err != nil {
		return nil, fmt.Errorf("cannot use daemon address %q: %w", host, err)
	}
	c.client = cl
	return cl, nil
}

func (c *CLI) closeClient() {
	if c.client != nil {
		_ = c.client.Close()
		c.client = nil
	}
}

// NewRootCommand builds the berth command tree for c.
//
// Global flags (-H) belong to the root alone, and TraverseChildren lets
// them come before the command name, as in docker: `berth -H unix:///x ps`.
// Keeping them off the subcommands leaves their short forms free, so
// `berth history -H` means --human there, as it does in docker.
func NewRootCommand(c *CLI) *cobra.Command {
	root := &cobra.Command{
		Use:              "berth [OPTIONS] COMMAND [ARG...]",
		Short:            "A self-sufficient runtime for containers, driven through berthd",
		Long:             "berth is the command-line client of berthd, a container engine that speaks the Docker Engine API.\nIts commands and flags are docker's.",
		Version:          versionString(),
		SilenceErrors:    true,
		SilenceUsage:     true,
		TraverseChildren: true,
		Args:             noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cmd.SetOut(c.Err)
			return cmd.Help()
		},
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
	}
	root.SetIn(c.In)
	root.SetOut(c.Out)
	root.SetErr(c.Err)
	root.SetVersionTemplate("berth version {{.Version}}\n")
	root.SetFlagErrorFunc(flagError)
	root.Flags().StringVarP(&c.host, "host", "H", "", "Daemon socket to connect to (default $"+HostEnv+" or "+DefaultHost+")")
	root.Flags().BoolP("version", "v", false, "Print version information and quit")

	root.AddGroup(
		&cobra.Group{ID: "common", Title: "Common Commands:"},
		&cobra.Group{ID: "management", Title: "Management Commands:"},
		&cobra.Group{ID: "other", Title: "Commands:"},
	)
	add := func(group string, cmds ...*cobra.Command) {
		for _, cmd := range cmds {
			cmd.GroupID = group
			root.AddCommand(cmd)
		}
	}
	add("common",
		newRunCommand(c), newExecCommand(c), newPsCommand(c), newBuildCommand(c),
		newImagesCommand(c), newVersionCommand(c), newInfoCommand(c),
	)
	add("management", newBuilderCommand(c), newImageCommand(c), newContainerCommand(c), newNetworkCommand(c), newSystemCommand(c), newVolumeCommand(c))
	add("other",
		newAttachCommand(c), newCommitCommand(c), newCompletionCommand(c), newCpCommand(c), newCreateCommand(c), newEventsCommand(c), newExportCommand(c),
		newHistoryCommand(c), newImportCommand(c), newInspectCommand(c), newKillCommand(c),
		newLoadCommand(c), newLoginCommand(c), newLogoutCommand(c), newLogsCommand(c), newPauseCommand(c),
		newPortCommand(c), newPullCommand(c), newPushCommand(c), newRenameCommand(c),
		newRestartCommand(c), newRmCommand(c), newRmiCommand(c), newSaveCommand(c),
		newStartCommand(c), newStatsCommand(c), newStopCommand(c), newTagCommand(c), newTopCommand(c),
		newUnpauseCommand(c), newUpdateCommand(c), newWaitCommand(c),
	)
	root.AddCommand(newDocsCommand(c))
	tidyCommands(root)
	addCompletions(c, root)
	return root
}

// tidyCommands gives every command docker's usage line ("berth run
// [OPTIONS] IMAGE ...", without cobra's "[flags]" added), and a --help
// flag. Commands that use -h for something else (run's --hostname) get
// --help without a short form, as in docker.
func tidyCommands(cmd *cobra.Command) {
	cmd.DisableFlagsInUseLine = true
	if cmd.Flags().Lookup("help") == nil {
		if cmd.Flags().ShorthandLookup("h") == nil {
			cmd.Flags().BoolP("help", "h", false, "Print usage")
		} else {
			cmd.Flags().Bool("help", false, "Print usage")
		}
	}
	for _, sub := range cmd.Commands() {
		tidyCommands(sub)
	}
}

func versionString() string {
	if GitCommit == "" {
		return Version
	}
	return Version + ", build " + GitCommit
}

// flagError turns a flag-parsing error into docker's message and status
// 125, the status docker uses for every error of its own making.
func flagError(cmd *cobra.Command, err error) error {
	return StatusError{
		Status: fmt.Sprintf("%s\n\nUsage:  %s\n\nRun '%s --help' for more information",
			err, cmd.UseLine(), cmd.CommandPath()),
		StatusCode: 125,
	}
}

// Argument checks with docker's wording.

func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	if cmd.HasSubCommands() {
		return fmt.Errorf("%s: unknown command: %s %s\n\nRun '%s --help' for more information",
			cmd.Root().Name(), cmd.CommandPath(), args[0], cmd.CommandPath())
	}
	return fmt.Errorf("%s: '%s' accepts no arguments\n\nUsage:  %s\n\nRun '%s --help' for more information",
		cmd.Root().Name(), cmd.CommandPath(), cmd.UseLine(), cmd.CommandPath())
}

func requiresMinArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) >= n {
			return nil
		}
		return argsError(cmd, "See", fmt.Sprintf("requires at least %d %s", n, plural("argument", n)))
	}
}

func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) == n {
			return nil
		}
		return argsError(cmd, "Run", fmt.Sprintf("requires %d %s", n, plural("argument", n)))
	}
}

func requiresRangeArgs(lo, hi int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) >= lo && len(args) <= hi {
			return nil
		}
		return argsError(cmd, "Run", fmt.Sprintf("requires at least %d and at most %d %s", lo, hi, plural("argument", hi)))
	}
}

// argsError words a wrong number of arguments as docker 28 does, which
// ends with "See '... --help'" for too few of a minimum and with "Run
// '... --help'" otherwise.
func argsError(cmd *cobra.Command, verb, what string) error {
	return fmt.Errorf("%s: '%s' %s\n\nUsage:  %s\n\n%s '%s --help' for more information",
		cmd.Root().Name(), cmd.CommandPath(), what, cmd.UseLine(), verb, cmd.CommandPath())
}

func plural(word string, n int) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// errorList joins the errors of a command that acts on several objects
// (stop a b c): docker reports each one and exits 1 if any failed.
func errorList(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	msgs := make([]string, len(errs))
	for i, err := range errs {
		msgs[i] = err.Error()
	}
	return errors.New(strings.Join(msgs, "\n"))
}

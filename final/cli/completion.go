package cli

import (
	"fmt"
	"slices"
	"strings"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
)

// Shell completion.
//
// A completion script that knew berth's commands and flags would have to
// be rewritten each time a command changed, and would drift from --help
// the way hand-written docs do. So the scripts know nothing: at each TAB
// the shell runs
//
//	berth __complete stop we          (the words typed so far)
//
// and berth answers with the candidates, one a line, and a last line
// ":N" telling the shell what to do when there are none (N is a set of
// cobra's ShellCompDirective bits: 4 = no file names, 2 = no space after
// the word, ...). The answer comes from the same command tree that
// --help and `berth docs man` print, so the three cannot disagree, and
// names come from the daemon at the moment of the TAB:
//
//	bash/zsh/fish ──TAB──► berth __complete stop we ──GET /containers/json──► berthd
//	   ◄── "web\n:4" ─────────────┘
//
// The hidden __complete command and the three small scripts that call it
// are cobra's, as they are in docker's CLI since version 23 (docker
// completion bash|zsh|fish); what berth adds is what to offer where:
//
//   - Positional arguments are read off the usage line: "berth stop
//     [OPTIONS] CONTAINER [CONTAINER...]" offers containers at every
//     position, "berth network connect [OPTIONS] NETWORK CONTAINER" a
//     network and then a container, "berth tag SOURCE_IMAGE[:TAG]
//     TARGET_IMAGE[:TAG]" images twice. A new command gets completion by
//     writing its usage line the way docker does, nothing else.
//   - Which containers depends on the command, as in docker: only running
//     ones where a stopped container would be refused (stop, kill, exec,
//     attach, pause, top, ...), only paused ones for unpause, only stopped
//     ones for start, and for rm unless -f is given, all of them for
//     inspect, logs, rename, restart, ...
//   - Flags whose values name something (--network, --volumes-from,
//     --restart, --signal, inspect's --type) offer those values.
//   - A name already on the command line is not offered again.

// newCompletionCommand is `berth completion bash|zsh|fish`, which
// prints the script for that shell.
func newCompletionCommand(c *CLI) *cobra.Command {
	return &cobra.Command{
		Use:   "completion bash|zsh|fish",
		Short: "Print the shell completion script for bash, zsh or fish",
		Long: `Print the shell completion script for bash, zsh or fish.

The script completes berth's commands and flags, and the names of containers,
images, networks and volumes, which it asks berthd for at each TAB (through
$BERTH_HOST or -H, like any other berth command). "make install" installs the
three scripts where the shells look for them. To try one in the current shell:

  source <(berth completion bash)      # needs the bash-completion package
  source <(berth completion zsh)       # after "autoload -U compinit; compinit"
  berth completion fish | source`,
		Args:      exactArgs(1),
		ValidArgs: []string{"bash", "zsh", "fish"},
		RunE: func(cmd *cobra.Command, args []string) error {
			root := cmd.Root()
			var err error
			switch args[0] {
			case "bash":
				err = root.GenBashCompletionV2(c.Out, true)
			case "zsh":
				err = root.GenZshCompletion(c.Out)
			case "fish":
				err = root.GenFishCompletion(c.Out, true)
			default:
				return StatusError{
					Status:     fmt.Sprintf("berth completion: unknown shell %q: bash, zsh or fish", args[0]),
					StatusCode: 125,
				}
			}
			if err != nil {
				return fmt.Errorf("completion script for %s: %w", args[0], err)
			}
			return nil
		},
	}
}

// argKind is what a positional argument names.
type argKind int

const (
	argNone      argKind = iota // a new name, a command, a port: nothing to offer
	argFile                     // a path on this host: the shell's own file completion
	argContainer                // a container's name
	argCopyPath                 // cp's CONTAINER:PATH: a container's name and a colon
	argImage                    // an image's name:tag
	argNetwork
	argVolume
	argObject // inspect's NAME|ID: any of the above, or the one of --type
)

// usageArgs reads the positional arguments off a command's usage line
// (what comes after the command's path and [OPTIONS]): what each
// position names, and whether the last one repeats ("[CONTAINER...]").
func usageArgs(cmd *cobra.Command) (kinds []argKind, repeat bool) {
	use := strings.TrimSpace(strings.TrimPrefix(cmd.Use, cmd.Name()))
	use = strings.ReplaceAll(use, " | ", "|") // "PATH | URL | -" is one argument
	var words []string
	for _, w := range strings.Fields(use) {
		// "[ps OPTIONS]" is one argument too: join a bracket's words.
		if n := len(words); n > 0 && strings.Count(words[n-1], "[") > strings.Count(words[n-1], "]") {
			words[n-1] += " " + w
			continue
		}
		words = append(words, w)
	}
	create := cmd.Name() == "create"
	for _, w := range words {
		if w == "[OPTIONS]" {
			continue
		}
		if strings.HasSuffix(w, "...]") || strings.HasSuffix(w, "...") {
			// "[CONTAINER...]" repeats the argument before it, or is
			// the first and only one ("stats [OPTIONS] [CONTAINER...]").
			repeat = true
			if len(kinds) > 0 {
				break
			}
		}
		name := strings.Trim(w, "[]")
		var k argKind
		switch {
		case strings.HasPrefix(name, "CONTAINER:"):
			k = argCopyPath
		case strings.HasPrefix(name, "CONTAINER"):
			k = argContainer
		case strings.Contains(name, "IMAGE"), strings.HasPrefix(name, "NAME[:TAG"):
			k = argImage
		case strings.HasPrefix(name, "REPOSITORY"):
			// An existing image only as `images`' filter, the first
			// argument; after commit's container or import's file it
			// is the name to give.
			if len(kinds) == 0 {
				k = argImage
			}
		case strings.HasPrefix(name, "NETWORK"):
			if !create {
				k = argNetwork
			}
		case strings.HasPrefix(name, "VOLUME"):
			if !create {
				k = argVolume
			}
		case strings.HasPrefix(name, "NAME|ID"):
			k = argObject
		case name == "DIR", strings.HasPrefix(name, "PATH"), strings.HasPrefix(name, "DEST_PATH"),
			strings.HasPrefix(name, "file|"):
			k = argFile
		}
		if k == argFile && len(kinds) > 0 && kinds[0] == argCopyPath {
			k = argCopyPath // cp's other side: see completeArgs
		}
		kinds = append(kinds, k)
		if repeat {
			break
		}
	}
	return kinds, repeat
}

// containerFilter chooses the containers a command offers; cmd is the
// command with the flags typed so far parsed.
type containerFilter func(cmd *cobra.Command, s container.Summary) bool

// containerStates says, for the commands that act on some containers
// only, which ones to offer (as docker's completion does). The others
// offer every container.
var containerStates = map[string]containerFilter{
	"attach":  runningNotPaused,
	"exec":    runningNotPaused,
	"pause":   runningNotPaused,
	"unpause": func(_ *cobra.Command, s container.Summary) bool { return s.State == container.StatePaused },
	"kill":    running,
	"stop":    running,
	"top":     running,
	"port":    running,
	"stats":   running,
	"wait":    running,
	"commit":  running,
	"start":   stopped,
	// rm refuses a running container without -f.
	"rm": func(cmd *cobra.Command, s container.Summary) bool {
		f := cmd.Flags().Lookup("force")
		return (f != nil && f.Changed) || stopped(cmd, s)
	},
}

func running(_ *cobra.Command, s container.Summary) bool {
	return s.State == container.StateRunning || s.State == container.StatePaused || s.State == container.StateRestarting
}

func runningNotPaused(cmd *cobra.Command, s container.Summary) bool {
	return running(cmd, s) && s.State != container.StatePaused
}

func stopped(_ *cobra.Command, s container.Summary) bool {
	return s.State == container.StateExited || s.State == container.StateCreated
}

// addCompletions gives every command of the tree under root its
// completions: of its arguments, from its usage line, and of the flags
// that name something.
func addCompletions(c *CLI, root *cobra.Command) {
	flags := c.flagCompletions()
	var walk func(cmd *cobra.Command)
	walk = func(cmd *cobra.Command) {
		if cmd.ValidArgsFunction == nil && cmd.ValidArgs == nil && !cmd.HasSubCommands() {
			kinds, repeat := usageArgs(cmd)
			cmd.ValidArgsFunction = c.completeArgs(kinds, repeat, containerStates[cmd.Name()])
		}
		for name, fn := range flags {
			if cmd.Flags().Lookup(name) != nil {
				// Only fails when the flag is missing or already has one.
				_ = cmd.RegisterFlagCompletionFunc(name, fn)
			}
		}
		for _, sub := range cmd.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// completeArgs completes the argument at position len(args) as kinds
// says.
func (c *CLI) completeArgs(kinds []argKind, repeat bool, keep containerFilter) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		at := len(args)
		if at >= len(kinds) {
			if !repeat || len(kinds) == 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			at = len(kinds) - 1
		}
		var names []string
		var err error
		directive := cobra.ShellCompDirectiveNoFileComp
		switch kinds[at] {
		case argNone:
			return nil, directive
		case argFile:
			return nil, cobra.ShellCompDirectiveDefault
		case argContainer:
			names, err = c.containerNames(cmd, keep)
		case argCopyPath:
			// Either side of cp may be the container's
			// (CONTAINER:SRC_PATH DEST_PATH or SRC_PATH CONTAINER:DEST_PATH).
			// Once one side is, or a path is being typed, the rest is
			// the host's: the shell's file names. Otherwise containers,
			// with the colon and no space after it, and the shell's
			// file names still there when none matches.
			hostSide := strings.Contains(toComplete, ":") || strings.HasPrefix(toComplete, ".") || strings.HasPrefix(toComplete, "/")
			for _, a := range args {
				hostSide = hostSide || strings.Contains(a, ":")
			}
			if hostSide {
				return nil, cobra.ShellCompDirectiveDefault
			}
			names, err = c.containerNames(cmd, nil)
			for i := range names {
				names[i] += ":"
			}
			directive = cobra.ShellCompDirectiveNoSpace
		case argImage:
			names, err = c.imageNames(cmd)
		case argNetwork:
			names, err = c.networkNames(cmd)
		case argVolume:
			names, err = c.volumeNames(cmd)
		case argObject:
			names, err = c.objectNames(cmd)
		}
		if err != nil {
			cobra.CompErrorln(c.describe(err).Error())
			return nil, cobra.ShellCompDirectiveError
		}
		// A name already given is not offered again: `rm a b <TAB>`.
		names = slices.DeleteFunc(names, func(n string) bool { return slices.Contains(args, n) })
		return names, directive
	}
}

// flagCompletions are the completions of the flags whose values name
// something, by flag name; a command with a flag of that name gets it.
func (c *CLI) flagCompletions() map[string]cobra.CompletionFunc {
	fixed := func(values ...string) cobra.CompletionFunc {
		return cobra.FixedCompletions(values, cobra.ShellCompDirectiveNoFileComp)
	}
	names := func(list func(*cobra.Command) ([]string, error)) cobra.CompletionFunc {
		return func(cmd *cobra.Command, _ []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
			names, err := list(cmd)
			if err != nil {
				cobra.CompErrorln(c.describe(err).Error())
				return nil, cobra.ShellCompDirectiveError
			}
			return names, cobra.ShellCompDirectiveNoFileComp
		}
	}
	signals := signalNames()
	return map[string]cobra.CompletionFunc{
		// run/create: the networks berthd has (bridge, host and none
		// among them), and the containers another can mount from.
		"network": names(c.networkNames),
		"volumes-from": names(func(cmd *cobra.Command) ([]string, error) {
			return c.containerNames(cmd, nil)
		}),
		"restart":     fixed("no", "on-failure", "always", "unless-stopped"),
		"signal":      fixed(signals...),
		"stop-signal": fixed(signals...),
		"type":        fixed("container", "image", "network", "volume"),
	}
}

// signalNames are the names `kill --signal` accepts, without "SIG", in
// the order of their numbers.
func signalNames() []string {
	var names []string
	for n := 1; n < 32; n++ {
		if name := unix.SignalName(unix.Signal(n)); name != "" {
			names = append(names, strings.TrimPrefix(name, "SIG"))
		}
	}
	return names
}

// containerNames lists the names of the daemon's containers that keep
// accepts (all of them when keep is nil).
func (c *CLI) containerNames(cmd *cobra.Command, keep containerFilter) ([]string, error) {
	cl, err := c.Client()
	if err != nil {
		return nil, err
	}
	res, err := cl.ContainerList(cmd.Context(), client.ContainerListOptions{All: true})
	if err != nil {
		return nil, err
	}
	var names []string
	for _, s := range res.Items {
		if keep != nil && !keep(cmd, s) {
			continue
		}
		for _, n := range s.Names {
			// "/web" is the name; "/app/db" is a legacy link's alias
			// of db inside app, not a name to type.
			n = strings.TrimPrefix(n, "/")
			if n != "" && !strings.Contains(n, "/") {
				names = append(names, n)
			}
		}
	}
	return names, nil
}

// imageNames lists the daemon's images as NAME:TAG; an image without a
// tag has no name to offer.
func (c *CLI) imageNames(cmd *cobra.Command) ([]string, error) {
	cl, err := c.Client()
	if err != nil {
		return nil, err
	}
	res, err := cl.ImageList(cmd.Context(), client.ImageListOptions{})
	if err != nil {
		return nil, err
	}
	var names []string
	for _, img := range res.Items {
		for _, tag := range img.RepoTags {
			if tag != "<none>:<none>" && !slices.Contains(names, tag) {
				names = append(names, tag)
			}
		}
	}
	return names, nil
}

func (c *CLI) networkNames(cmd *cobra.Command) ([]string, error) {
	cl, err := c.Client()
	if err != nil {
		return nil, err
	}
	res, err := cl.NetworkList(cmd.Context(), client.NetworkListOptions{})
	if err != nil {
		return nil, err
	}
	var names []string
	for _, n := range res.Items {
		names = append(names, n.Name)
	}
	return names, nil
}

func (c *CLI) volumeNames(cmd *cobra.Command) ([]string, error) {
	cl, err := c.Client()
	if err != nil {
		return nil, err
	}
	res, err := cl.VolumeList(cmd.Context(), client.VolumeListOptions{})
	if err != nil {
		return nil, err
	}
	var names []string
	for _, v := range res.Items {
		names = append(names, v.Name)
	}
	return names, nil
}

// objectNames completes `inspect`: the objects of --type if it is
// given, else containers and images, what inspect is mostly used on.
func (c *CLI) objectNames(cmd *cobra.Command) ([]string, error) {
	kind := ""
	if f := cmd.Flags().Lookup("type"); f != nil {
		kind = f.Value.String()
	}
	switch kind {
	case "container":
		return c.containerNames(cmd, nil)
	case "image":
		return c.imageNames(cmd)
	case "network":
		return c.networkNames(cmd)
	case "volume":
		return c.volumeNames(cmd)
	case "":
		names, err := c.containerNames(cmd, nil)
		if err != nil {
			return nil, err
		}
		images, err := c.imageNames(cmd)
		return append(names, images...), err
	}
	return nil, nil
}

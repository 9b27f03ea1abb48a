package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/moby/moby/api/types/volume"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

// newVolumeCommand is `berth volume`: data that outlives containers.
func newVolumeCommand(c *CLI) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "volume",
		Short: "Manage volumes",
		Long: `Manage volumes: directories kept by the daemon outside any container's
layer, which containers mount with -v NAME:/path or --mount.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cmd.SetOut(c.Err)
			return cmd.Help()
		},
	}
	cmd.AddCommand(newVolumeCreateCommand(c), newVolumeListCommand(c), newVolumeInspectCommand(c),
		newVolumeRmCommand(c), newVolumePruneCommand(c))
	return cmd
}

// keyValues turns KEY=VALUE flags into a map.
func keyValues(list []string) map[string]string {
	if len(list) == 0 {
		return nil
	}
	m := map[string]string{}
	for _, kv := range list {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

func newVolumeCreateCommand(c *CLI) *cobra.Command {
	var driver string
	var opts, labels listValue
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] [VOLUME]",
		Short: "Create a volume",
		Long: `Create a volume, or find the one of that name. Without a name the
daemon makes one up (and labels the volume anonymous).

The local driver's options (-o): type=tmpfs with o=size=..,mode=..; or
o=bind with device=/host/path.`,
		Args: requiresRangeArgs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.Client()
			if err != nil {
				return err
			}
			o := client.VolumeCreateOptions{Driver: driver, DriverOpts: keyValues(opts), Labels: keyValues(labels)}
			if len(args) == 1 {
				o.Name = args[0]
			}
			res, err := cl.VolumeCreate(cmd.Context(), o)
			if err != nil {
				return err
			}
			fmt.Fprintln(c.Out, res.Volume.Name)
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVarP(&driver, "driver", "d", "local", "Specify volume driver name")
	fs.VarP(&opts, "opt", "o", "Set driver specific options")
	fs.Var(&labels, "label", "Set metadata for a volume")
	return cmd
}

// parseFilters reads --filter KEY=VALUE flags; the daemon judges the keys.
func parseFilters(list []string) (client.Filters, error) {
	f := client.Filters{}
	for _, kv := range list {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("bad format of filter (expected name=value)")
		}
		f.Add(strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(v))
	}
	return f, nil
}

// volumeRow is one line of `volume ls`.
type volumeRow struct{ v volume.Volume }

func (r volumeRow) Name() string       { return r.v.Name }
func (r volumeRow) Driver() string     { return r.v.Driver }
func (r volumeRow) Scope() string      { return r.v.Scope }
func (r volumeRow) Mountpoint() string { return r.v.Mountpoint }
func (r volumeRow) CreatedAt() string  { return r.v.CreatedAt }
func (r volumeRow) Labels() string     { return sortedKeyValues(r.v.Labels) }

// Label is the value of one label: {{.Label "tier"}}.
func (r volumeRow) Label(name string) string { return r.v.Labels[name] }

var volumeHeaders = map[string]string{
	"Name": "VOLUME NAME", "Driver": "DRIVER", "Scope": "SCOPE", "Mountpoint": "MOUNTPOINT",
	"CreatedAt": "CREATED", "Labels": "LABELS", "Label": "LABEL",
}

func newVolumeListCommand(c *CLI) *cobra.Command {
	var quiet bool
	var format string
	var filters listValue
	cmd := &cobra.Command{
		Use:     "ls [OPTIONS]",
		Aliases: []string{"list"},
		Short:   "List volumes",
		Long: `List volumes. Filters: name (part of the name; several are alternatives),
label (KEY or KEY=VALUE; every one given must match), dangling (true: no
container uses it), driver.

--format fields: .Name .Driver .Scope .Mountpoint .CreatedAt .Labels .Label.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := parseFilters(filters)
			if err != nil {
				return err
			}
			cl, err := c.Client()
			if err != nil {
				return err
			}
			res, err := cl.VolumeList(cmd.Context(), client.VolumeListOptions{Filters: f})
			if err != nil {
				return err
			}
			sort.Slice(res.Items, func(i, j int) bool { return res.Items[i].Name < res.Items[j].Name })
			rows := make([]volumeRow, len(res.Items))
			for i, v := range res.Items {
				rows[i] = volumeRow{v}
			}
			if quiet {
				format = "{{.Name}}"
			}
			return writeFormatted(c.Out, format, "table {{.Driver}}\t{{.Name}}", volumeHeaders, rows)
		},
	}
	fs := cmd.Flags()
	fs.BoolVarP(&quiet, "quiet", "q", false, "Only display volume names")
	fs.StringVar(&format, "format", "", tableFormatHelp)
	fs.VarP(&filters, "filter", "f", "Provide filter values (e.g. \"dangling=true\")")
	return cmd
}

func (c *CLI) inspectVolume(ctx context.Context, cl *client.Client, name string) (json.RawMessage, error) {
	res, err := cl.VolumeInspect(ctx, name, client.VolumeInspectOptions{})
	return res.Raw, err
}

func newVolumeInspectCommand(c *CLI) *cobra.Command {
	return newKindInspectCommand(c, "inspect [OPTIONS] VOLUME [VOLUME...]",
		"Display detailed information on one or more volumes", "", "volume", c.inspectVolume)
}

func newVolumeRmCommand(c *CLI) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:     "rm [OPTIONS] VOLUME [VOLUME...]",
		Aliases: []string{"remove"},
		Short:   "Remove one or more volumes",
		Long: `Remove one or more volumes and their files. A volume that a container
uses (running or not) cannot be removed: remove the container first.`,
		Args: requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.Client()
			if err != nil {
				return err
			}
			var errs []error
			for _, name := range args {
				if _, err := cl.VolumeRemove(cmd.Context(), name, client.VolumeRemoveOptions{Force: force}); err != nil {
					errs = append(errs, err)
					continue
				}
				fmt.Fprintln(c.Out, name)
			}
			return errorList(errs)
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Do not fail on a volume that does not exist")
	return cmd
}

func newVolumePruneCommand(c *CLI) *cobra.Command {
	var all, force bool
	var filters listValue
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused local volumes",
		Long: `Remove the volumes no container uses: the anonymous ones, or with --all
the named ones too. Filters: label (KEY or KEY=VALUE), label! (not that label).`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := parseFilters(filters)
			if err != nil {
				return err
			}
			if !force {
				what := "anonymous local volumes"
				if all {
					what = "local volumes"
				}
				if !c.confirm(fmt.Sprintf("WARNING! This will remove %s not used by at least one container.", what)) {
					return nil
				}
			}
			cl, err := c.Client()
			if err != nil {
				return err
			}
			if !all {
				// Said outright: at API 1.41 a prune without the
				// filter removes the named volumes too (the docker
				// CLI's behaviour against such a daemon).
				f = f.Add("all", "false")
			}
			res, err := cl.VolumePrune(cmd.Context(), client.VolumePruneOptions{All: all, Filters: f})
			if err != nil {
				return err
			}
			c.printPruned("Volumes", res.Report.VolumesDeleted)
			c.printReclaimed(res.Report.SpaceReclaimed)
			return nil
		},
	}
	fs := cmd.Flags()
	fs.BoolVarP(&all, "all", "a", false, "Remove all unused volumes, not just anonymous ones")
	fs.BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	fs.VarP(&filters, "filter", "", "Provide filter values (e.g. \"label=<label>\")")
	return cmd
}

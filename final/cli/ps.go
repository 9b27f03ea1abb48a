package cli

import (
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

const defaultPsFormat = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"

var psHeaders = map[string]string{
	"ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "CreatedAt": "CREATED AT",
	"RunningFor": "CREATED", "Ports": "PORTS", "State": "STATE", "Status": "STATUS", "Size": "SIZE",
	"Names": "NAMES", "Labels": "LABELS", "Label": "LABEL", "Mounts": "MOUNTS", "Networks": "NETWORKS",
	"LocalVolumes": "LOCAL VOLUMES",
}

func newPsCommand(c *CLI) *cobra.Command {
	var (
		all, quiet, noTrunc, size, latest bool
		last                              int
		format                            string
		filters                           listValue
	)
	cmd := &cobra.Command{
		Use:   "ps [OPTIONS]",
		Short: "List containers",
		Long: `List containers: the running ones, or all of them with -a.

--format takes a Go template over these fields: .ID .Image .Command
.CreatedAt .RunningFor .Ports .State .Status .Size .Names .Labels
.Label "name" .Mounts .Networks; "table" before it adds headers, and
"json" prints each container as a JSON object.`,
		Example: `  berth ps -a
  berth ps -q
  berth ps --format 'table {{.Names}}\t{{.Status}}'
  berth ps --format json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts := client.ContainerListOptions{All: all, Size: size, Limit: last}
			if latest {
				opts.Limit = 1
			}
			if opts.Limit > 0 {
				opts.All = true // docker: -n and -l look at stopped containers too
			}
			f, err := parseFilters(filters)
			if err != nil {
				return err
			}
			opts.Filters = f
			if size && format == "" {
				format = defaultPsFormat + "\t{{.Size}}"
			}
			if quiet {
				format = "{{.ID}}"
			}
			cl, err := c.Client()
			if err != nil {
				return err
			}
			res, err := cl.ContainerList(cmd.Context(), opts)
			if err != nil {
				return err
			}
			now := time.Now()
			rows := make([]psRow, len(res.Items))
			for i, ctr := range res.Items {
				rows[i] = psRow{c: ctr, trunc: !noTrunc, now: now}
			}
			return writeFormatted(c.Out, format, defaultPsFormat, psHeaders, rows)
		},
	}
	fs := cmd.Flags()
	fs.BoolVarP(&all, "all", "a", false, "Show all containers (default shows just running)")
	fs.BoolVarP(&quiet, "quiet", "q", false, "Only display container IDs")
	fs.StringVar(&format, "format", "", tableFormatHelp)
	fs.VarP(&filters, "filter", "f", "Filter output based on conditions provided")
	fs.IntVarP(&last, "last", "n", -1, "Show n last created containers (includes all states)")
	fs.BoolVarP(&latest, "latest", "l", false, "Show the latest created container (includes all states)")
	fs.BoolVar(&noTrunc, "no-trunc", false, "Don't truncate output")
	fs.BoolVarP(&size, "size", "s", false, "Display total file sizes")
	return cmd
}

// psRow is one container of `ps`; its methods are the --format fields.
type psRow struct {
	c     container.Summary
	trunc bool
	now   time.Time
}

func (r psRow) ID() string {
	if r.trunc {
		return truncateID(r.c.ID)
	}
	return r.c.ID
}

func (r psRow) Image() string {
	if r.trunc && strings.HasPrefix(r.c.Image, "sha256:") {
		return truncateID(r.c.Image)
	}
	return r.c.Image
}

func (r psRow) Command() string {
	cmd := r.c.Command
	if r.trunc {
		cmd = ellipsis(cmd, 20)
	}
	return strconv.Quote(cmd)
}

func (r psRow) CreatedAt() string { return time.Unix(r.c.Created, 0).String() }

func (r psRow) RunningFor() string { return timeAgo(time.Unix(r.c.Created, 0), r.now) }

func (r psRow) Ports() string { return displayPorts(r.c.Ports) }

func (r psRow) State() string { return string(r.c.State) }

func (r psRow) Status() string { return r.c.Status }

func (r psRow) Size() string {
	s := humanSize(r.c.SizeRw)
	if r.c.SizeRootFs > 0 {
		s += " (virtual " + humanSize(r.c.SizeRootFs) + ")"
	}
	return s
}

// Names drops the leading "/" docker keeps in names, and the names a
// container has only through links ("/other/alias").
func (r psRow) Names() string {
	var names []string
	for _, n := range r.c.Names {
		n = strings.TrimPrefix(n, "/")
		if strings.Contains(n, "/") {
			continue
		}
		names = append(names, n)
	}
	return strings.Join(names, ",")
}

func (r psRow) Labels() string { return sortedKeyValues(r.c.Labels) }

func (r psRow) Label(name string) string { return r.c.Labels[name] }

func (r psRow) Mounts() string {
	var names []string
	for _, m := range r.c.Mounts {
		name := m.Name
		if name == "" {
			name = m.Source
		}
		if r.trunc {
			name = ellipsis(name, 15)
		}
		names = append(names, name)
	}
	return strings.Join(names, ",")
}

// LocalVolumes counts the container's volumes that live on this host.
func (r psRow) LocalVolumes() string {
	n := 0
	for _, m := range r.c.Mounts {
		if m.Driver == "local" {
			n++
		}
	}
	return strconv.Itoa(n)
}

func (r psRow) Networks() string {
	if r.c.NetworkSettings == nil {
		return ""
	}
	var names []string
	for n := range r.c.NetworkSettings.Networks {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ",")
}

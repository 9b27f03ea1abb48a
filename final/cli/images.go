package cli

import (
	"fmt"
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

const defaultImagesFormat = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"

var imagesHeaders = map[string]string{
	"Repository": "REPOSITORY", "Tag": "TAG", "ID": "IMAGE ID", "Digest": "DIGEST",
	"CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "Size": "SIZE", "Containers": "CONTAINERS",
	"SharedSize": "SHARED SIZE", "UniqueSize": "UNIQUE SIZE", "VirtualSize": "VIRTUAL SIZE",
}

func newImagesCommand(c *CLI) *cobra.Command {
	cmd := newImageListCommand(c)
	cmd.Use = "images [OPTIONS] [REPOSITORY[:TAG]]"
	cmd.Aliases = nil
	return cmd
}

// newImageCommand is `berth image`, the group that docker also has:
// image ls, inspect, history, tag, rm, save, load, import, build.
func newImageCommand(c *CLI) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "image",
		Short: "Manage images",
		Long: `Manage images: the read-only layers and configuration from which
containers are made.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cmd.SetOut(c.Err)
			return cmd.Help()
		},
	}
	ls := newImageListCommand(c)
	rm := newRmiCommand(c)
	rm.Use, rm.Aliases = "rm [OPTIONS] IMAGE [IMAGE...]", []string{"remove", "rmi"}
	cmd.AddCommand(
		ls, newImageInspectCommand(c), newHistoryCommand(c), newTagCommand(c), rm,
		newSaveCommand(c), newLoadCommand(c), newImportCommand(c), newBuildCommand(c),
		newPullCommand(c), newPushCommand(c),
		newImagePruneCommand(c),
	)
	return cmd
}

// newContainerCommand is `berth container`, docker's group for the
// container commands, for those used to typing `container ls`.
func newContainerCommand(c *CLI) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "container",
		Short: "Manage containers",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cmd.SetOut(c.Err)
			return cmd.Help()
		},
	}
	ls := newPsCommand(c)
	ls.Use, ls.Aliases = "ls [OPTIONS]", []string{"ps", "list"}
	rm := newRmCommand(c)
	rm.Aliases = []string{"remove"}
	cmd.AddCommand(
		newAttachCommand(c), newCommitCommand(c), newCpCommand(c), newCreateCommand(c), newExecCommand(c),
		newExportCommand(c), newInspectContainerCommand(c), newKillCommand(c), newLogsCommand(c), ls,
		newPauseCommand(c), newPortCommand(c), newContainerPruneCommand(c), newRenameCommand(c), newRestartCommand(c), rm, newRunCommand(c),
		newStartCommand(c), newStopCommand(c), newTopCommand(c), newUnpauseCommand(c), newUpdateCommand(c), newWaitCommand(c),
	)
	cmd.AddCommand(newStatsCommand(c)) // help lists the commands sorted
	return cmd
}

func newInspectContainerCommand(c *CLI) *cobra.Command {
	var format string
	var size bool
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Display detailed information on one or more containers",
		Args:  requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.inspectObjects(cmd.Context(), args, format, "container", []objectLookup{c.inspectContainer(size)})
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "Format output using a custom template")
	cmd.Flags().BoolVarP(&size, "size", "s", false, "Display total file sizes")
	return cmd
}

func newImageListCommand(c *CLI) *cobra.Command {
	var (
		all, quiet, noTrunc, digests bool
		format                       string
		filters                      listValue
	)
	cmd := &cobra.Command{
		Use:     "ls [OPTIONS] [REPOSITORY[:TAG]]",
		Aliases: []string{"list"},
		Short:   "List images",
		Long: `List the images the daemon has: one line per repository and tag, and
"<none>" for an image without a name (such as one replaced by a newer
image of the same name).

--format fields: .ID .Repository .Tag .Digest .CreatedSince .CreatedAt
.Size .Containers.`,
		Args: requiresRangeArgs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts := client.ImageListOptions{All: all}
			if len(filters) > 0 || len(args) == 1 {
				opts.Filters = make(client.Filters)
				for _, f := range filters {
					k, v, ok := strings.Cut(f, "=")
					if !ok {
						return fmt.Errorf("bad format of filter (expected name=value)")
					}
					opts.Filters.Add(strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(v))
				}
				if len(args) == 1 {
					opts.Filters.Add("reference", args[0])
				}
			}
			cl, err := c.Client()
			if err != nil {
				return err
			}
			res, err := cl.ImageList(cmd.Context(), opts)
			if err != nil {
				return err
			}
			rows := imageRows(res.Items, !noTrunc, time.Now())
			if quiet {
				seen := map[string]bool{}
				for _, r := range rows {
					id := r.ID()
					if !seen[id] {
						seen[id] = true
						fmt.Fprintln(c.Out, id)
					}
				}
				return nil
			}
			def := defaultImagesFormat
			if digests {
				def = "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
			}
			return writeFormatted(c.Out, format, def, imagesHeaders, rows)
		},
	}
	fs := cmd.Flags()
	fs.BoolVarP(&all, "all", "a", false, "Show all images (default hides intermediate images)")
	fs.BoolVarP(&quiet, "quiet", "q", false, "Only show image IDs")
	fs.BoolVar(&noTrunc, "no-trunc", false, "Don't truncate output")
	fs.BoolVar(&digests, "digests", false, "Show digests")
	fs.StringVar(&format, "format", "", tableFormatHelp)
	fs.VarP(&filters, "filter", "f", "Filter output based on conditions provided")
	return cmd
}

// imageRow is one line of `images`: an image under one of its names.
type imageRow struct {
	img        image.Summary
	repo, tag  string
	digest     string
	trunc      bool
	now        time.Time
	containers int64
}

// imageRows gives each image one row per repository:tag it carries, as
// docker does, and one "<none>" row if it has none.
func imageRows(images []image.Summary, trunc bool, now time.Time) []imageRow {
	var rows []imageRow
	for _, img := range images {
		digest := "<none>"
		if len(img.RepoDigests) > 0 {
			if _, d, ok := strings.Cut(img.RepoDigests[0], "@"); ok {
				digest = d
			}
		}
		row := imageRow{img: img, repo: "<none>", tag: "<none>", digest: digest, trunc: trunc, now: now}
		if len(img.RepoTags) == 0 && len(img.RepoDigests) > 0 {
			// Pulled by digest only: a row per repository digest, the
			// tag <none>, as docker shows it.
			for _, rd := range img.RepoDigests {
				r := row
				if name, d, ok := strings.Cut(rd, "@"); ok {
					r.repo, r.digest = name, d
				}
				rows = append(rows, r)
			}
			continue
		}
		if len(img.RepoTags) == 0 {
			rows = append(rows, row)
			continue
		}
		for _, rt := range img.RepoTags {
			r := row
			r.repo, r.tag = splitRepoTag(rt)
			// The digest of this row's repository: an image pushed to
			// two registries has a digest in each.
			r.digest = "<none>"
			for _, rd := range img.RepoDigests {
				if name, d, ok := strings.Cut(rd, "@"); ok && name == r.repo {
					r.digest = d
				}
			}
			rows = append(rows, r)
		}
	}
	return rows
}

// splitRepoTag splits "name:tag", minding a registry's port
// ("localhost:5000/app:1").
func splitRepoTag(s string) (repo, tag string) {
	if s == "<none>:<none>" {
		return "<none>", "<none>"
	}
	if i := strings.LastIndex(s, ":"); i >= 0 && !strings.Contains(s[i+1:], "/") {
		return s[:i], s[i+1:]
	}
	return s, "<none>"
}

func (r imageRow) ID() string {
	if r.trunc {
		return truncateID(r.img.ID)
	}
	return r.img.ID
}
func (r imageRow) Repository() string { return r.repo }
func (r imageRow) Tag() string        { return r.tag }
func (r imageRow) Digest() string     { return r.digest }
func (r imageRow) CreatedSince() string {
	return timeAgo(time.Unix(r.img.Created, 0), r.now)
}
func (r imageRow) CreatedAt() string { return time.Unix(r.img.Created, 0).String() }
func (r imageRow) Size() string      { return humanSize(r.img.Size) }
func (r imageRow) VirtualSize() string {
	return humanSize(r.img.Size)
}
func (r imageRow) SharedSize() string {
	if r.img.SharedSize < 0 {
		return "N/A"
	}
	return humanSize(r.img.SharedSize)
}
func (r imageRow) UniqueSize() string {
	if r.img.SharedSize < 0 {
		return "N/A"
	}
	return humanSize(r.img.Size - r.img.SharedSize)
}
func (r imageRow) Containers() string {
	if r.img.Containers < 0 {
		return "N/A"
	}
	return strconv.FormatInt(r.img.Containers, 10)
}

func newImageInspectCommand(c *CLI) *cobra.Command {
	return newKindInspectCommand(c, "inspect [OPTIONS] IMAGE [IMAGE...]",
		"Display detailed information on one or more images", "", "image", c.inspectImage)
}

const defaultHistoryFormat = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"

var historyHeaders = map[string]string{
	"ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "CreatedBy": "CREATED BY",
	"Size": "SIZE", "Comment": "COMMENT", "Tags": "TAGS",
}

func newHistoryCommand(c *CLI) *cobra.Command {
	var human, noTrunc, quiet bool
	var format string
	cmd := &cobra.Command{
		Use:   "history [OPTIONS] IMAGE",
		Short: "Show the history of an image",
		Long: `Show the layers of an image, newest first, with the instruction that made
each. Layers that came from elsewhere (a base image loaded without its
history) show as <missing>. Any layer ID listed can be given a name with
berth tag, to go back to that state.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.Client()
			if err != nil {
				return err
			}
			res, err := cl.ImageHistory(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			now := time.Now()
			rows := make([]historyRow, len(res.Items))
			for i, h := range res.Items {
				rows[i] = historyRow{h: h, human: human, trunc: !noTrunc, now: now}
			}
			if quiet {
				format = "{{.ID}}"
			}
			headers := historyHeaders
			if !human {
				// CreatedSince is then an absolute time, and says so.
				headers = maps.Clone(historyHeaders)
				headers["CreatedSince"] = "CREATED AT"
			}
			return writeFormatted(c.Out, format, defaultHistoryFormat, headers, rows)
		},
	}
	fs := cmd.Flags()
	fs.BoolVarP(&human, "human", "H", true, "Print sizes and dates in human readable format")
	fs.BoolVar(&noTrunc, "no-trunc", false, "Don't truncate output")
	fs.BoolVarP(&quiet, "quiet", "q", false, "Only show image IDs")
	fs.StringVar(&format, "format", "", tableFormatHelp)
	return cmd
}

type historyRow struct {
	h     image.HistoryResponseItem
	human bool
	trunc bool
	now   time.Time
}

func (r historyRow) ID() string {
	if r.h.ID == "<missing>" || !r.trunc {
		return r.h.ID
	}
	return truncateID(r.h.ID)
}

func (r historyRow) CreatedSince() string {
	t := time.Unix(r.h.Created, 0)
	if !r.human {
		return t.Format(time.RFC3339)
	}
	return timeAgo(t, r.now)
}

func (r historyRow) CreatedAt() string { return time.Unix(r.h.Created, 0).Format(time.RFC3339) }

func (r historyRow) CreatedBy() string {
	by := strings.ReplaceAll(r.h.CreatedBy, "\t", " ")
	if r.trunc {
		by = ellipsis(by, 45)
	}
	return by
}

func (r historyRow) Size() string {
	if r.human {
		return humanSize(r.h.Size)
	}
	return strconv.FormatInt(r.h.Size, 10)
}

func (r historyRow) Comment() string { return r.h.Comment }
func (r historyRow) Tags() string    { return strings.Join(r.h.Tags, ", ") }

func newTagCommand(c *CLI) *cobra.Command {
	return &cobra.Command{
		Use:   "tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
		Short: "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
		Long: `Give an image another name. SOURCE may be a name or an image or layer ID
(as berth history lists them): tagging an old layer makes that state of
the image usable again.`,
		Args: exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.Client()
			if err != nil {
				return err
			}
			_, err = cl.ImageTag(cmd.Context(), client.ImageTagOptions{Source: args[0], Target: args[1]})
			return err
		},
	}
}

func newRmiCommand(c *CLI) *cobra.Command {
	var force, noPrune bool
	cmd := &cobra.Command{
		Use:   "rmi [OPTIONS] IMAGE [IMAGE...]",
		Short: "Remove one or more images",
		Long: `Remove one or more images. A name that is one of several tags of an image
is only untagged; the image goes with its last name, and its layers with
it unless another image shares them. An image used by a container cannot
be removed without --force.`,
		Args: requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.Client()
			if err != nil {
				return err
			}
			var errs []error
			for _, name := range args {
				res, err := cl.ImageRemove(cmd.Context(), name, client.ImageRemoveOptions{Force: force, PruneChildren: !noPrune})
				if err != nil {
					errs = append(errs, err)
					continue
				}
				for _, d := range res.Items {
					if d.Untagged != "" {
						fmt.Fprintf(c.Out, "Untagged: %s\n", d.Untagged)
					}
					if d.Deleted != "" {
						fmt.Fprintf(c.Out, "Deleted: %s\n", d.Deleted)
					}
				}
			}
			return errorList(errs)
		},
	}
	fs := cmd.Flags()
	fs.BoolVarP(&force, "force", "f", false, "Force removal of the image")
	fs.BoolVar(&noPrune, "no-prune", false, "Do not delete untagged parents")
	return cmd
}

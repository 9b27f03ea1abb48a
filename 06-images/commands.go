package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/berth-project/berth/01-namespaces/namespace"
	"github.com/berth-project/berth/04-cow-layers/atomicfile"
	"github.com/berth-project/berth/04-cow-layers/layer"
	"github.com/berth-project/berth/06-images/image"
)

// The image commands. Each parses its flags, calls the store once and
// prints the result the way the docker client does.

// flags is a command's flag set with --root, and the store it opens.
type flags struct {
	*flag.FlagSet
	root string
}

func newFlags(name string) *flags {
	f := &flags{FlagSet: namespace.FlagSet(name)}
	layer.AddRootFlag(f.FlagSet, &f.root)
	return f
}

// parse parses args and checks the number of arguments left.
func (f *flags) parse(args []string, min, max int, usage string) error {
	if err := f.Parse(args); err != nil {
		return err
	}
	if f.NArg() < min || max >= 0 && f.NArg() > max {
		return errors.New("usage: " + f.Name() + " " + usage)
	}
	return nil
}

func (f *flags) store() (*image.Store, error) { return image.Open(image.StoreDir(f.root)) }

// changes collects repeated -c/--change flags.
type changes []string

func (c *changes) String() string     { return strings.Join(*c, "; ") }
func (c *changes) Set(s string) error { *c = append(*c, s); return nil }

func (c changes) apply(cfg *image.ContainerConfig) error {
	for _, ch := range c {
		if err := image.ApplyChange(cfg, ch); err != nil {
			return err
		}
	}
	return nil
}

func importImage(args []string, stdio namespace.Stdio) (int, error) {
	f := newFlags("import")
	var msg string
	var chs changes
	f.StringVar(&msg, "m", "", "the history's comment")
	f.Var(&chs, "c", "apply a Dockerfile instruction to the config: CMD, ENTRYPOINT, ENV, WORKDIR, USER... (repeatable)")
	if err := f.parse(args, 1, 2, "[--root DIR] [-m MSG] [-c CHANGE]... FILE|- [NAME[:TAG]]"); err != nil {
		return 0, err
	}
	var cfg image.ContainerConfig
	if err := chs.apply(&cfg); err != nil {
		return 0, err
	}
	in, closeIn, err := openInput(f.Arg(0), stdio.In)
	if err != nil {
		return 0, err
	}
	defer closeIn()
	s, err := f.store()
	if err != nil {
		return 0, err
	}
	if msg == "" && f.Arg(0) != "-" {
		msg = "Imported from " + f.Arg(0)
	}
	img, err := s.Import(in, image.ImportOptions{Ref: f.Arg(1), Config: &cfg, Comment: msg})
	if err != nil {
		return 0, err
	}
	fmt.Fprintln(stdio.Out, img.ID)
	return 0, nil
}

func commit(args []string, stdio namespace.Stdio) (int, error) {
	f := newFlags("commit")
	var msg, author string
	var chs changes
	f.StringVar(&msg, "m", "", "the history's comment")
	f.StringVar(&author, "a", "", "the author")
	f.Var(&chs, "c", "apply a Dockerfile instruction to the config: CMD, ENTRYPOINT, ENV, WORKDIR, USER... (repeatable)")
	if err := f.parse(args, 1, 2, "[--root DIR] [-m MSG] [-a AUTHOR] [-c CHANGE]... CONTAINER [NAME[:TAG]]"); err != nil {
		return 0, err
	}
	rw, err := layer.Find(f.root, f.Arg(0))
	if err != nil {
		return 0, err
	}
	rec, err := image.ReadContainerRecord(rw.Dir)
	if err != nil {
		return 0, err
	}
	s, err := f.store()
	if err != nil {
		return 0, err
	}
	parent, err := s.Get(rec.Image.String())
	if err != nil {
		return 0, fmt.Errorf("the container's image: %w", err)
	}
	cfg := parent.Config.Config
	if err := chs.apply(&cfg); err != nil {
		return 0, err
	}
	// Held while the upper directory is read: a container running at the
	// same moment (or rm) would change it under the tar.
	if err := rw.Hold(); err != nil {
		return 0, err
	}
	defer rw.Release()
	img, err := s.Commit(rw.Upper(), image.CommitOptions{
		Parent: parent.ID, Ref: f.Arg(1), Config: &cfg,
		CreatedBy: strings.Join(rec.Command, " "), Author: author, Comment: msg,
	})
	if err != nil {
		return 0, err
	}
	fmt.Fprintln(stdio.Out, img.ID)
	return 0, nil
}

func images(args []string, stdio namespace.Stdio) (int, error) {
	f := newFlags("images")
	var all, quiet, noTrunc, digests bool
	f.BoolVar(&all, "a", false, "show intermediate images too (untagged parents of other images)")
	f.BoolVar(&quiet, "q", false, "only IDs")
	f.BoolVar(&noTrunc, "no-trunc", false, "full IDs")
	f.BoolVar(&digests, "digests", false, "show the registry digests (RepoDigests) too")
	if err := f.parse(args, 0, 0, "[--root DIR] [-a] [-q] [--no-trunc] [--digests]"); err != nil {
		return 0, err
	}
	s, err := f.store()
	if err != nil {
		return 0, err
	}
	list, err := s.Images()
	if err != nil {
		return 0, err
	}
	parents := map[image.Digest]bool{}
	for _, img := range list {
		parents[img.Parent] = true
	}
	tw := tabwriter.NewWriter(stdio.Out, 0, 8, 3, ' ', 0)
	if !quiet {
		if digests {
			fmt.Fprintln(tw, "REPOSITORY\tTAG\tDIGEST\tIMAGE ID\tCREATED\tSIZE")
		} else {
			fmt.Fprintln(tw, "REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE")
		}
	}
	for _, img := range list {
		if len(img.Tags) == 0 && parents[img.ID] && !all {
			continue // an intermediate image, as `docker images` hides them
		}
		id := img.ID.Short()
		if noTrunc {
			id = img.ID.String()
		}
		if quiet {
			fmt.Fprintln(tw, id)
			continue
		}
		for _, r := range imageRows(img, digests) {
			if digests {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.repo, r.tag, r.digest, id, ago(img.Created()), size(img.Size))
				continue
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.repo, r.tag, id, ago(img.Created()), size(img.Size))
		}
	}
	return 0, tw.Flush()
}

// row is one line of `images`: a repository, a tag, a digest.
type row struct{ repo, tag, digest string }

// imageRows lists an image's lines as docker images does: one per tag;
// with digests, each tag shows its repository's digest, and a digest
// whose repository has no tag gets a line of its own, tag <none>.
func imageRows(img image.Image, digests bool) []row {
	byRepo := map[string]string{}
	var repos []string
	if digests {
		for _, rd := range img.RepoDigests {
			name, d, _ := strings.Cut(rd, "@")
			if _, ok := byRepo[name]; !ok {
				repos = append(repos, name)
			}
			byRepo[name] = d
		}
	}
	var rows []row
	tagged := map[string]bool{}
	for _, t := range img.Tags {
		i := strings.LastIndex(t, ":")
		d := byRepo[t[:i]]
		if d == "" {
			d = "<none>"
		}
		rows = append(rows, row{t[:i], t[i+1:], d})
		tagged[t[:i]] = true
	}
	for _, name := range repos {
		if !tagged[name] {
			rows = append(rows, row{name, "<none>", byRepo[name]})
		}
	}
	if len(rows) == 0 {
		rows = append(rows, row{"<none>", "<none>", "<none>"})
	}
	return rows
}

func history(args []string, stdio namespace.Stdio) (int, error) {
	f := newFlags("history")
	var noTrunc bool
	f.BoolVar(&noTrunc, "no-trunc", false, "full IDs and commands")
	if err := f.parse(args, 1, 1, "[--root DIR] [--no-trunc] IMAGE"); err != nil {
		return 0, err
	}
	s, err := f.store()
	if err != nil {
		return 0, err
	}
	steps, err := s.History(f.Arg(0))
	if err != nil {
		return 0, err
	}
	tw := tabwriter.NewWriter(stdio.Out, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, "IMAGE\tCREATED\tCREATED BY\tSIZE\tCOMMENT")
	for _, st := range steps {
		id, by := "<missing>", st.CreatedBy
		if st.ID != "" {
			id = st.ID.Short()
			if noTrunc {
				id = st.ID.String()
			}
		}
		if !noTrunc && len(by) > 45 {
			by = by[:44] + "…"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", id, ago(st.Created), by, size(st.Size), st.Comment)
	}
	return 0, tw.Flush()
}

func tag(args []string, stdio namespace.Stdio) (int, error) {
	f := newFlags("tag")
	if err := f.parse(args, 2, 2, "[--root DIR] SOURCE TARGET"); err != nil {
		return 0, err
	}
	s, err := f.store()
	if err != nil {
		return 0, err
	}
	return 0, s.Tag(f.Arg(0), f.Arg(1))
}

// rmi removes each image in turn; like docker, it goes on after a
// failure, reports it on stderr and exits 1.
func rmi(args []string, stdio namespace.Stdio) (int, error) {
	f := newFlags("rmi")
	var force bool
	f.BoolVar(&force, "f", false, "remove the image even if a container uses it, and every tag of an image named by ID")
	if err := f.parse(args, 1, -1, "[--root DIR] [-f] IMAGE..."); err != nil {
		return 0, err
	}
	s, err := f.store()
	if err != nil {
		return 0, err
	}
	status := 0
	for _, ref := range f.Args() {
		done, err := s.Remove(ref, force)
		for _, line := range done {
			fmt.Fprintln(stdio.Out, line)
		}
		if err != nil {
			fmt.Fprintf(stdio.Err, "Error: %v\n", err)
			status = 1
		}
	}
	return status, nil
}

func save(args []string, stdio namespace.Stdio) (int, error) {
	f := newFlags("save")
	var out string
	f.StringVar(&out, "o", "", "write to FILE instead of stdout")
	if err := f.parse(args, 1, -1, "[--root DIR] [-o FILE] IMAGE..."); err != nil {
		return 0, err
	}
	s, err := f.store()
	if err != nil {
		return 0, err
	}
	return 0, writeOutput(out, stdio.Out, func(w io.Writer) error { return s.Save(w, f.Args()) })
}

func load(args []string, stdio namespace.Stdio) (int, error) {
	f := newFlags("load")
	var in string
	f.StringVar(&in, "i", "-", "read from FILE instead of stdin")
	if err := f.parse(args, 0, 0, "[--root DIR] [-i FILE]"); err != nil {
		return 0, err
	}
	r, closeIn, err := openInput(in, stdio.In)
	if err != nil {
		return 0, err
	}
	defer closeIn()
	s, err := f.store()
	if err != nil {
		return 0, err
	}
	loaded, err := s.Load(r)
	if err != nil {
		return 0, err
	}
	for _, l := range loaded {
		for _, t := range l.Tags {
			fmt.Fprintln(stdio.Out, "Loaded image: "+t)
		}
		if len(l.Tags) == 0 {
			fmt.Fprintln(stdio.Out, "Loaded image ID: "+l.ID.String())
		}
	}
	return 0, nil
}

// export writes a container's file system, all layers merged, as a tar.
func export(args []string, stdio namespace.Stdio) (int, error) {
	f := newFlags("export")
	var out string
	f.StringVar(&out, "o", "", "write to FILE instead of stdout")
	if err := f.parse(args, 1, 1, "[--root DIR] [-o FILE] CONTAINER"); err != nil {
		return 0, err
	}
	rw, err := layer.Find(f.root, f.Arg(0))
	if err != nil {
		return 0, err
	}
	if err := rw.Hold(); err != nil {
		return 0, err
	}
	defer rw.Release()
	dirs := append(append([]string{}, rw.Lower...), rw.Upper())
	return 0, writeOutput(out, stdio.Out, func(w io.Writer) error { return image.Flatten(w, dirs) })
}

// rm is chapter 04's rm, which also ends the container's lease on its
// image: the image can then be removed without -f.
func rm(args []string, stdio namespace.Stdio) (int, error) {
	f := newFlags("rm")
	if err := f.parse(args, 1, -1, "[--root DIR] CONTAINER..."); err != nil {
		return 0, err
	}
	s, err := f.store()
	if err != nil {
		return 0, err
	}
	for _, ref := range f.Args() {
		rw, err := layer.Find(f.root, ref)
		if err != nil {
			return 0, err
		}
		if err := rw.Remove(); err != nil {
			return 0, err
		}
		if err := s.Release(rw.ID); err != nil {
			return 0, err
		}
		fmt.Fprintln(stdio.Out, ref)
	}
	return 0, nil
}

// openInput opens FILE, or "-" for stdin.
func openInput(name string, stdin io.Reader) (io.Reader, func(), error) {
	if name == "-" {
		if stdin == nil {
			return nil, nil, errors.New("no input: give a file, or pipe one to stdin")
		}
		return stdin, func() {}, nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, nil, err
	}
	return f, func() { f.Close() }, nil
}

// writeOutput runs write into FILE, or stdout if FILE is "". A file is
// written beside its final name and renamed when complete, so a failed
// save leaves no half-written archive.
func writeOutput(name string, stdout io.Writer, write func(io.Writer) error) error {
	if name == "" {
		if stdout == nil {
			return errors.New("no output: give -o FILE")
		}
		return write(stdout)
	}
	return atomicfile.Write(name, atomicfile.Options{Perm: 0o644}, write)
}

// ago says how long ago t was, as the docker client does.
func ago(t time.Time) string {
	if t.IsZero() {
		return "N/A"
	}
	d := time.Since(t)
	switch {
	case d < time.Second:
		return "Less than a second ago"
	case d < time.Minute:
		return plural(int(d.Seconds()), "second") + " ago"
	case d < time.Hour:
		return plural(int(d.Minutes()), "minute") + " ago"
	case d < 48*time.Hour:
		return plural(int(d.Hours()), "hour") + " ago"
	case d < 14*24*time.Hour:
		return plural(int(d.Hours()/24), "day") + " ago"
	case d < 60*24*time.Hour:
		return plural(int(d.Hours()/24/7), "week") + " ago"
	case d < 2*365*24*time.Hour:
		return plural(int(d.Hours()/24/30), "month") + " ago"
	}
	return plural(int(d.Hours()/24/365), "year") + " ago"
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

// size prints bytes in the docker client's decimal units.
func size(n int64) string {
	switch {
	case n < 1000:
		return fmt.Sprintf("%dB", n)
	case n < 1000*1000:
		return fmt.Sprintf("%.3gkB", float64(n)/1000)
	case n < 1000*1000*1000:
		return fmt.Sprintf("%.3gMB", float64(n)/1000/1000)
	}
	return fmt.Sprintf("%.3gGB", float64(n)/1000/1000/1000)
}

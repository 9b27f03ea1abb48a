package cli

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/final/containerfs"
)

// berth cp: the client's half of docker cp. The daemon stats, archives
// and extracts paths in the container (final/containerfs); the client
// decides, from the stat of both ends, which directory the archive goes
// into and under which name, as docker's client does:
//
//	source    destination            result
//	file      missing                the file is saved as DEST
//	file      missing, ends in "/"   error: the directory must exist
//	file      a file                 DEST is overwritten
//	file      a directory            DEST/<source's name>
//	dir       missing                DEST is made, a copy of the directory
//	dir       a file                 error
//	dir       a directory            DEST/<source's name>, or with SRC/.
//	                                 the directory's contents into DEST
//
// The local side is read and written through containerfs too: a symlink
// in an archive from the daemon cannot lead the copy out of DEST.

func newCpCommand(c *CLI) *cobra.Command {
	var archive, follow bool
	cmd := &cobra.Command{
		Use:   "cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-",
		Short: "Copy files/folders between a container and the local filesystem",
		Long: `Copy a file or a directory out of a container, or into one; the
container may be running or stopped. "-" as the destination writes a
tar archive to stdout; "-" as the source extracts a tar archive from
stdin into a directory of the container. Paths in the container are
resolved inside it: its symlinks lead to its own files.

  berth cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-
  berth cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH`,
		Example: `  berth cp web:/etc/nginx/nginx.conf .
  berth cp ./site web:/var/www/
  berth cp web:/var/log - | tar -t`,
		Args: exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			sctr, spath := splitCpArg(args[0])
			dctr, dpath := splitCpArg(args[1])
			switch {
			case sctr != "" && dctr != "":
				return errors.New("copying between containers is not supported")
			case sctr != "":
				if archive {
					return errors.New("-a (--archive) sets owners in the container: it applies to a copy into one")
				}
				return c.copyFrom(cmd.Context(), sctr, spath, dpath, follow)
			case dctr != "":
				return c.copyTo(cmd.Context(), spath, dctr, dpath, archive, follow)
			}
			return errors.New("must specify at least one container source")
		},
	}
	fs := cmd.Flags()
	fs.BoolVarP(&archive, "archive", "a", false, "Archive mode (copy all uid/gid information)")
	fs.BoolVarP(&follow, "follow-link", "L", false, "Always follow symbol link in SRC_PATH")
	return cmd
}

// splitCpArg splits "CONTAINER:PATH"; a local path (absolute, or
// starting with ".", or without a colon) has no container.
func splitCpArg(arg string) (ctr, p string) {
	if filepath.IsAbs(arg) || strings.HasPrefix(arg, ".") {
		return "", arg
	}
	ctr, p, ok := strings.Cut(arg, ":")
	if !ok {
		return "", arg
	}
	return ctr, p
}

// linkTarget is where a symlink's stat says it leads, as a path in the
// container.
func linkTarget(p, target string) string {
	if path.IsAbs(target) {
		return target
	}
	return path.Join(path.Dir(p), target)
}

// copyFrom copies SRC of a container to dst, "-" for stdout.
func (c *CLI) copyFrom(ctx context.Context, ctr, src, dst string, follow bool) error {
	cl, err := c.Client()
	if err != nil {
		return err
	}
	name := "" // with -L through a symlink: the link's name for the copy
	if follow {
		st, err := cl.ContainerStatPath(ctx, ctr, client.ContainerStatPathOptions{Path: src})
		if err == nil && st.Stat.Mode&os.ModeSymlink != 0 {
			name, src = path.Base(src), linkTarget(src, st.Stat.LinkTarget)
		}
	}
	if dst == "-" && isTerminal(c.Out) {
		return errTerminalOutput
	}
	res, err := cl.CopyFromContainer(ctx, ctr, client.CopyFromContainerOptions{SourcePath: src})
	if err != nil {
		return err
	}
	defer res.Content.Close()
	if dst == "-" {
		_, err = io.Copy(c.Out, res.Content)
		return err
	}
	if name == "" {
		name = res.Stat.Name
	}
	dir, rename, err := placeCopy(res.Stat.Mode.IsDir(), strings.HasSuffix(src, "/."), name, localStat(dst), dst)
	if err != nil {
		return err
	}
	root, err := containerfs.OpenRoot(dir, "the destination "+dir)
	if err != nil {
		return err
	}
	defer root.Close()
	content := renameEntries(res.Content, res.Stat.Name, rename)
	defer content.Close()
	return root.Extract("/", content, containerfs.ExtractOptions{NoOverwriteDirNonDir: true, NoChown: true})
}

// dest is what the client knows of a destination.
type dest struct{ exists, isDir bool }

func localStat(p string) dest {
	fi, err := os.Stat(p)
	if err != nil {
		return dest{}
	}
	return dest{exists: true, isDir: fi.IsDir()}
}

// placeCopy decides where a source named name goes for destination
// dst (see the table above): the directory to extract into, and the
// name its entries get there ("" keeps them).
func placeCopy(srcIsDir, contents bool, name string, d dest, dst string) (dir, rename string, err error) {
	switch {
	case d.isDir && contents:
		return dst, "", nil
	case d.isDir:
		return dst, name, nil
	case d.exists && srcIsDir:
		return "", "", fmt.Errorf("cannot copy a directory to a file: %s", dst)
	case !d.exists && strings.HasSuffix(dst, "/"):
		return "", "", fmt.Errorf("destination directory %s must exist", dst)
	}
	return path.Dir(strings.TrimSuffix(dst, "/")), path.Base(dst), nil
}

// copyTo copies src, "-" for a tar on stdin, into a container.
func (c *CLI) copyTo(ctx context.Context, src, ctr, dst string, archive, follow bool) error {
	cl, err := c.Client()
	if err != nil {
		return err
	}
	var d dest
	st, err := cl.ContainerStatPath(ctx, ctr, client.ContainerStatPathOptions{Path: dst})
	if err == nil && st.Stat.Mode&os.ModeSymlink != 0 {
		dst = linkTarget(dst, st.Stat.LinkTarget)
		st, err = cl.ContainerStatPath(ctx, ctr, client.ContainerStatPathOptions{Path: dst})
	}
	switch {
	case err == nil:
		d = dest{exists: true, isDir: st.Stat.Mode.IsDir()}
	case !errdefs.IsNotFound(err):
		return err
	}
	var content io.Reader = c.In
	dir := dst
	if src != "-" {
		var rc io.ReadCloser
		dir, rc, err = localArchive(src, dst, d, follow)
		if err != nil {
			return err
		}
		defer rc.Close()
		content = rc
	} else if !d.isDir {
		return fmt.Errorf("destination \"%s:%s\" must be a directory", ctr, dst)
	}
	_, err = cl.CopyToContainer(ctx, ctr, client.CopyToContainerOptions{
		DestinationPath: dir, Content: content, CopyUIDGID: archive,
	})
	return err
}

// localArchive makes the tar of the local src for destination dst of a
// container, and says which directory of the container it goes into.
func localArchive(src, dst string, d dest, follow bool) (string, io.ReadCloser, error) {
	contents := strings.HasSuffix(src, "/.") || src == "."
	abs, err := filepath.Abs(src)
	if err != nil {
		return "", nil, err
	}
	name := filepath.Base(abs)
	if follow {
		if abs, err = filepath.EvalSymlinks(abs); err != nil {
			return "", nil, err
		}
	}
	fi, err := os.Lstat(abs)
	if err != nil {
		return "", nil, err
	}
	dir, rename, err := placeCopy(fi.IsDir(), contents, name, d, dst)
	if err != nil {
		return "", nil, err
	}
	root, err := containerfs.OpenRoot(filepath.Dir(abs), "the source "+src)
	if err != nil {
		return "", nil, err
	}
	entry, tarName := filepath.Base(abs), filepath.Base(abs)
	if contents {
		entry, tarName = entry+"/.", "."
	}
	pr, pw := io.Pipe()
	go func() {
		err := root.Archive(entry, pw)
		pw.CloseWithError(errors.Join(err, root.Close()))
	}()
	return dir, renameEntries(pr, tarName, rename), nil
}

// renameEntries renames the archive's entries from "from" ("from/...")
// to "to" as it streams; "" for to keeps them.
func renameEntries(r io.Reader, from, to string) io.ReadCloser {
	if to == "" || to == from {
		return io.NopCloser(r)
	}
	pr, pw := io.Pipe()
	go func() {
		tr, tw := tar.NewReader(r), tar.NewWriter(pw)
		var err error
		for {
			var hdr *tar.Header
			if hdr, err = tr.Next(); err != nil {
				break
			}
			hdr.Name = renamed(hdr.Name, from, to)
			if hdr.Typeflag == tar.TypeLink {
				hdr.Linkname = renamed(hdr.Linkname, from, to)
			}
			if err = tw.WriteHeader(hdr); err != nil {
				break
			}
			if _, err = io.Copy(tw, tr); err != nil {
				break
			}
		}
		if errors.Is(err, io.EOF) {
			err = tw.Close()
		}
		pw.CloseWithError(err)
	}()
	return pr
}

// renamed is name with its first element from replaced by to; from "."
// stands for the whole archive (a directory's contents).
func renamed(name, from, to string) string {
	if from == "." {
		rest := strings.TrimPrefix(name, "./")
		if rest == "" || rest == "." {
			return to + "/"
		}
		return to + "/" + rest
	}
	if rest, ok := strings.CutPrefix(name, from); ok && (rest == "" || rest[0] == '/') {
		return to + rest
	}
	return name
}

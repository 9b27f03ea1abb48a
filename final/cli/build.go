package cli

import (
	"archive/tar"
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/final/build"
)

type buildOptions struct {
	tags       listValue
	dockerfile string
	buildArgs  listValue
	labels     listValue
	noCache    bool
	remove     bool
	forceRm    bool
	quiet      bool
	iidfile    string
}

func newBuildCommand(c *CLI) *cobra.Command {
	var opts buildOptions
	cmd := &cobra.Command{
		Use:   "build [OPTIONS] PATH | URL | -",
		Short: "Build an image from a Dockerfile",
		Long: `Build an image from a Dockerfile and a context: the directory PATH (or a
tar archive on stdin with "-", or a Dockerfile alone on stdin).

The context is sent to the daemon as a tar archive, without the files
that .dockerignore at its root excludes. Each instruction of the
Dockerfile runs in turn and adds a layer, or only configuration; an
unchanged instruction on unchanged files reuses the layer it made last
time (--no-cache prevents this), which is why rebuilding is fast.

.dockerignore holds one pattern per line: "#" starts a comment, "*" and
"?" match within a path element, "**" any number of directories, and a
pattern starting with "!" takes back an earlier exclusion. A pattern that
matches a directory excludes all it contains. The Dockerfile and
.dockerignore are always sent; the daemon leaves them out of COPY.`,
		Example: `  berth build -t hello:1 .
  berth build -f Dockerfile.dev --build-arg VERSION=2 -t app:dev .
  berth build -t one-file - < Dockerfile`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.build(cmd, &opts, args[0])
		},
	}
	fs := cmd.Flags()
	fs.VarP(&opts.tags, "tag", "t", "Name and optionally a tag in the \"name:tag\" format")
	fs.StringVarP(&opts.dockerfile, "file", "f", "", "Name of the Dockerfile (default: \"PATH/Dockerfile\")")
	fs.Var(&opts.buildArgs, "build-arg", "Set build-time variables")
	fs.Var(&opts.labels, "label", "Set metadata for an image")
	fs.BoolVar(&opts.noCache, "no-cache", false, "Do not use cache when building the image")
	fs.BoolVar(&opts.remove, "rm", true, "Remove intermediate containers after a successful build")
	fs.BoolVar(&opts.forceRm, "force-rm", false, "Always remove intermediate containers")
	fs.BoolVarP(&opts.quiet, "quiet", "q", false, "Suppress the build output and print image ID on success")
	fs.StringVar(&opts.iidfile, "iidfile", "", "Write the image ID to the file")
	return cmd
}

func (c *CLI) build(cmd *cobra.Command, opts *buildOptions, contextArg string) error {
	bo := client.ImageBuildOptions{
		Tags:           opts.tags,
		NoCache:        opts.noCache,
		Remove:         opts.remove,
		ForceRemove:    opts.forceRm,
		SuppressOutput: opts.quiet,
		BuildArgs:      map[string]*string{},
		Labels:         map[string]string{},
	}
	// Every stored credential goes (X-Registry-Config), for the FROM
	// images the daemon pulls, as docker sends them.
	// A credential helper that fails costs the build nothing but its
	// credentials (docker ignores the error; berth says it).
	auths, err := c.buildAuths()
	if err != nil {
		fmt.Fprintf(c.Err, "WARNING: the build goes without registry credentials: %v\n", err)
	}
	bo.AuthConfigs = auths
	for _, a := range opts.buildArgs {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			// "--build-arg NAME" takes NAME from berth's environment; an
			// unset NAME is sent as null, which leaves the ARG's default.
			if env, set := c.lookupEnv(k); set {
				v, ok = env, true
			}
		}
		if ok {
			val := v
			bo.BuildArgs[k] = &val
		} else {
			bo.BuildArgs[k] = nil
		}
	}
	for _, l := range opts.labels {
		k, v, _ := strings.Cut(l, "=")
		bo.Labels[k] = v
	}

	var body io.Reader
	switch {
	case contextArg == "-":
		r, dockerfile, err := stdinContext(c.In)
		if err != nil {
			return err
		}
		body = r
		if dockerfile != "" {
			bo.Dockerfile = dockerfile
		} else if opts.dockerfile != "" {
			bo.Dockerfile = opts.dockerfile
		}
	case strings.HasPrefix(contextArg, "http://"), strings.HasPrefix(contextArg, "https://"),
		strings.HasPrefix(contextArg, "git://"), strings.HasPrefix(contextArg, "git@"):
		bo.RemoteContext = contextArg
		bo.Dockerfile = opts.dockerfile
	default:
		tmp, err := os.CreateTemp("", "berth-build-context-*.tar")
		if err != nil {
			return fmt.Errorf("cannot make the build context: %w", err)
		}
		defer func() {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}()
		dockerfile, err := writeBuildContext(tmp, contextArg, opts.dockerfile)
		if err != nil {
			return err
		}
		size, err := tmp.Seek(0, io.SeekCurrent)
		if err != nil {
			return fmt.Errorf("build context %s: %w", tmp.Name(), err)
		}
		if _, err := tmp.Seek(0, io.SeekStart); err != nil {
			return fmt.Errorf("build context %s: %w", tmp.Name(), err)
		}
		if !opts.quiet {
			fmt.Fprintf(c.Out, "Sending build context to berthd  %s\n", humanSize(size))
		}
		body = tmp
		bo.Dockerfile = dockerfile
	}

	cl, err := c.Client()
	if err != nil {
		return err
	}
	res, err := cl.ImageBuild(cmd.Context(), body, bo)
	if err != nil {
		return err
	}
	defer res.Body.Close()

	var imageID string
	out := c.Out
	var quietOut bytes.Buffer
	if opts.quiet {
		out = &quietOut // with -q the daemon sends only the ID; keep it
	}
	err = displayJSONMessagesAux(res.Body, out, isTerminal(c.Out), func(aux json.RawMessage) {
		var id struct{ ID string }
		if json.Unmarshal(aux, &id) == nil && id.ID != "" {
			imageID = id.ID
		}
	})
	if err != nil {
		var jerr *jsonError
		if errors.As(err, &jerr) {
			code := jerr.Code
			if code == 0 {
				code = 1
			}
			return StatusError{Status: jerr.Message, StatusCode: code}
		}
		return err
	}
	if imageID == "" {
		imageID = strings.TrimSpace(quietOut.String())
	}
	if opts.quiet {
		fmt.Fprintln(c.Out, imageID)
	}
	if opts.iidfile != "" && imageID != "" {
		if err := os.WriteFile(opts.iidfile, []byte(imageID), 0o666); err != nil {
			return fmt.Errorf("cannot write the image ID: %w", err)
		}
	}
	return nil
}

// stdinContext reads a build context from stdin: a tar archive (plain or
// compressed) is passed on as it is; anything else is taken as a
// Dockerfile alone, and wrapped in a tar of one file.
func stdinContext(in io.Reader) (io.Reader, string, error) {
	br := bufio.NewReaderSize(in, 1024)
	head, err := br.Peek(512)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, "", fmt.Errorf("reading the build context from stdin: %w", err)
	}
	if looksLikeArchive(head) {
		return br, "", nil
	}
	dockerfile, err := io.ReadAll(br)
	if err != nil {
		return nil, "", fmt.Errorf("reading the Dockerfile from stdin: %w", err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	name := "Dockerfile"
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: int64(len(dockerfile)), Typeflag: tar.TypeReg}); err != nil {
		return nil, "", err
	}
	if _, err := tw.Write(dockerfile); err != nil {
		return nil, "", err
	}
	if err := tw.Close(); err != nil {
		return nil, "", err
	}
	return &buf, name, nil
}

func looksLikeArchive(head []byte) bool {
	switch {
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}), // gzip
		bytes.HasPrefix(head, []byte("BZh")),                       // bzip2
		bytes.HasPrefix(head, []byte{0xfd, '7', 'z', 'X', 'Z', 0}), // xz
		bytes.HasPrefix(head, []byte{0x28, 0xb5, 0x2f, 0xfd}):      // zstd
		return true
	}
	return len(head) >= 262 && string(head[257:262]) == "ustar"
}

// writeBuildContext writes the tar archive of contextDir to w, leaving
// out what .dockerignore excludes, and returns the Dockerfile's path
// inside the archive. A Dockerfile outside the context is added under a
// random name, as docker does.
//
// Files go in with owner 0:0: the context is what the build sees, not
// who owns the files on the client's machine.
func writeBuildContext(w io.Writer, contextDir, dockerfile string) (string, error) {
	abs, err := filepath.Abs(contextDir)
	if err != nil {
		return "", fmt.Errorf("build context %s: %w", contextDir, err)
	}
	if abs, err = filepath.EvalSymlinks(abs); err != nil {
		return "", fmt.Errorf("unable to prepare context: path %q not found", contextDir)
	}
	if st, err := os.Stat(abs); err != nil || !st.IsDir() {
		return "", fmt.Errorf("unable to prepare context: %s is not a directory", contextDir)
	}

	dfPath := dockerfile
	if dfPath == "" {
		dfPath = filepath.Join(abs, "Dockerfile")
		if _, err := os.Lstat(dfPath); errors.Is(err, fs.ErrNotExist) {
			if _, err := os.Lstat(filepath.Join(abs, "dockerfile")); err == nil {
				dfPath = filepath.Join(abs, "dockerfile")
			}
		}
	} else if !filepath.IsAbs(dfPath) {
		dfPath = filepath.Join(abs, dfPath)
	}
	if _, err := os.Stat(dfPath); err != nil {
		return "", fmt.Errorf("unable to prepare context: unable to evaluate symlinks in Dockerfile path: %w", err)
	}
	relDockerfile, err := filepath.Rel(abs, dfPath)
	outside := err != nil || relDockerfile == ".." || strings.HasPrefix(relDockerfile, ".."+string(filepath.Separator))

	ignore, err := build.ReadIgnore(abs)
	if err != nil {
		return "", err
	}
	// The daemon needs these two even when .dockerignore lists them.
	ignore.Keep(".dockerignore")
	if !outside {
		ignore.Keep(filepath.ToSlash(relDockerfile))
	}

	tw := tar.NewWriter(w)
	err = filepath.WalkDir(abs, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("build context: %w", err)
		}
		rel, err := filepath.Rel(abs, p)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		if ignore.Excluded(rel) {
			if d.IsDir() && !ignore.HasExceptions() {
				return filepath.SkipDir
			}
			return nil // an exception may still bring back something inside
		}
		info, err := d.Info()
		if err != nil {
			return fmt.Errorf("build context %s: %w", p, err)
		}
		return addToTar(tw, p, rel, info)
	})
	if err != nil {
		return "", err
	}
	name := filepath.ToSlash(relDockerfile)
	if outside {
		var rnd [8]byte
		_, _ = rand.Read(rnd[:])
		name = ".dockerfile." + hex.EncodeToString(rnd[:])
		info, err := os.Stat(dfPath)
		if err != nil {
			return "", fmt.Errorf("dockerfile %s: %w", dfPath, err)
		}
		if err := addToTar(tw, dfPath, name, info); err != nil {
			return "", err
		}
	}
	if err := tw.Close(); err != nil {
		return "", fmt.Errorf("build context: %w", err)
	}
	return name, nil
}

func addToTar(tw *tar.Writer, file, name string, info fs.FileInfo) error {
	link := ""
	if info.Mode()&fs.ModeSymlink != 0 {
		l, err := os.Readlink(file)
		if err != nil {
			return fmt.Errorf("build context %s: %w", file, err)
		}
		link = l
	}
	hdr, err := tar.FileInfoHeader(info, link)
	if err != nil {
		return fmt.Errorf("build context %s: %w", file, err)
	}
	hdr.Name = name
	if info.IsDir() {
		hdr.Name += "/"
	}
	hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = 0, 0, "", ""
	hdr.Format = tar.FormatPAX
	if err := tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("build context %s: %w", file, err)
	}
	if !info.Mode().IsRegular() {
		return nil
	}
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("build context: %w", err)
	}
	defer f.Close()
	if _, err := io.Copy(tw, f); err != nil {
		return fmt.Errorf("build context %s: %w", file, err)
	}
	return nil
}

package build

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/06-images/image"
)

// baseFiles is a small image: users, an /etc that is not 0755, and
// /bin as a link to usr/bin, as in merged-/usr distributions.
var baseFiles = map[string]string{
	"etc/passwd":  "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001:app:/home/app:/bin/sh\n",
	"etc/group":   "root:x:0:\nstaff:x:50:\napp:x:1001:\n",
	"usr/bin/sh":  "not really a shell",
	"bin":         "-> usr/bin",
	"srv/":        "",
	"etc/os-info": "fake",
}

func newBuildFake(t *testing.T) *fake {
	f := newFake(t)
	f.addBase("base:latest", image.ContainerConfig{Env: []string{"PATH=/usr/bin:/bin"}, Cmd: []string{"sh"}}, baseFiles)
	// /etc of the base is 0750 and owned by group staff: a COPY into it
	// must keep that.
	etc := filepath.Join(f.images[f.tags["base:latest"]].Layers[0], "etc")
	require.NoError(t, os.Chmod(etc, 0o750))
	if os.Geteuid() == 0 {
		require.NoError(t, os.Chown(etc, 0, 50))
	}
	return f
}

// build runs a Dockerfile on a context of files, with the fake's cache.
func (f *fake) build(dockerfile string, files map[string]string, opts Options) (image.Digest, string, error) {
	f.t.Helper()
	ctxDir := f.t.TempDir()
	writeFiles(f.t, ctxDir, files)
	require.NoError(f.t, os.WriteFile(filepath.Join(ctxDir, "Dockerfile"), []byte(dockerfile), 0o644))
	df, err := ReadDockerfile(ctxDir, "Dockerfile")
	if err != nil {
		return "", "", err
	}
	ig, err := ReadIgnore(ctxDir)
	require.NoError(f.t, err)
	require.NoError(f.t, ApplyIgnore(ctxDir, ig))
	cache, err := OpenCache(filepath.Join(f.dir, "cache"))
	require.NoError(f.t, err)
	var out bytes.Buffer
	opts.Dockerfile, opts.Context, opts.Scratch, opts.Out = df, ctxDir, f.t.TempDir(), &out
	if opts.Cache == nil && !opts.NoCache {
		opts.Cache = cache
	}
	id, err := Build(context.Background(), f, opts)
	return id, out.String(), err
}

// view lists what an image shows at rel, through its layers.
func (f *fake) view(id image.Digest) tree {
	return imageTree(f.images[id].Layers)
}

func (f *fake) read(id image.Digest, rel string) string {
	f.t.Helper()
	t := f.view(id)
	n, err := t.stat(rel)
	require.NoError(f.t, err, rel)
	file, err := t.open(n)
	require.NoError(f.t, err)
	defer file.Close()
	var b bytes.Buffer
	_, err = b.ReadFrom(file)
	require.NoError(f.t, err)
	return b.String()
}

var idLine = regexp.MustCompile(`(?m)^ ---> [0-9a-f]{12}$`)

func TestBuildRunsEachStepOnThePreviousImage(t *testing.T) {
	f := newBuildFake(t)
	dockerfile := `FROM base
ENV GREETING=hello DIR=/srv/app
RUN echo build
WORKDIR $DIR
COPY app/ .
COPY --chown=app:staff conf.txt /etc/
USER app
EXPOSE 8080 53/udp
LABEL org.example.version="1.0" "with space"=yes
CMD ["./run.sh"]
`
	id, out, err := f.build(dockerfile, map[string]string{"app/run.sh": "#!/bin/sh\necho $GREETING\n", "app/lib/util.sh": "util", "conf.txt": "conf"}, Options{Tags: []string{"app:1"}})
	require.NoError(t, err, out)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	assert.Equal(t, "Step 1/10 : FROM base", lines[0])
	assert.Equal(t, " ---> "+f.tags["base:latest"].Short(), lines[1])
	assert.Contains(t, out, "Step 3/10 : RUN echo build\n ---> Running in cccccccccccc\nran /bin/sh -c echo build\nRemoving intermediate container cccccccccccc\n ---> ")
	assert.Contains(t, out, "Step 10/10 : CMD [\"./run.sh\"]\n")
	assert.Equal(t, 10, len(idLine.FindAllString(out, -1)), "one image per step:\n%s", out)
	assert.Equal(t, "Successfully built "+id.Short(), lines[len(lines)-2])
	assert.Equal(t, "Successfully tagged app:1", lines[len(lines)-1])
	assert.Equal(t, id, f.tags["app:1"])

	img := f.images[id]
	cfg := img.Config
	assert.Equal(t, []string{"PATH=/usr/bin:/bin", "GREETING=hello", "DIR=/srv/app"}, cfg.Env)
	assert.Equal(t, "/srv/app", cfg.WorkingDir)
	assert.Equal(t, "app", cfg.User)
	assert.Equal(t, []string{"./run.sh"}, cfg.Cmd)
	assert.Equal(t, map[string]struct{}{"8080/tcp": {}, "53/udp": {}}, cfg.ExposedPorts)
	assert.Equal(t, map[string]string{"org.example.version": "1.0", "with space": "yes"}, cfg.Labels)
	// One layer per filesystem step (RUN, COPY, COPY), on the base's.
	assert.Len(t, img.Layers, 4)

	// The steps' history, as Docker's classic builder writes it.
	hist := f.history(id)
	require.Len(t, hist, 9)
	assert.Equal(t, "/bin/sh -c #(nop) ENV GREETING=hello DIR=/srv/app", hist[0])
	assert.Equal(t, "/bin/sh -c echo build", hist[1])
	assert.Equal(t, "/bin/sh -c #(nop) WORKDIR /srv/app", hist[2])
	assert.Regexp(t, `^/bin/sh -c #\(nop\) COPY dir:[0-9a-f]{64} in /srv/app/ $`, hist[3])
	assert.Regexp(t, `^/bin/sh -c #\(nop\) COPY --chown=app:staff file:[0-9a-f]{64} in /etc/ $`, hist[4])

	// The files, where the image shows them.
	assert.Equal(t, "#!/bin/sh\necho $GREETING\n", f.read(id, "srv/app/run.sh"))
	assert.Equal(t, "util", f.read(id, "srv/app/lib/util.sh"))
	assert.Equal(t, "conf", f.read(id, "etc/conf.txt"))
	assert.Equal(t, "fake", f.read(id, "etc/os-info"), "the base's files show through")

	// The COPY layer holds /etc as the base has it (a copy-up), and the
	// file with --chown's owner.
	copyLayer := img.Layers[3]
	fi, err := os.Stat(filepath.Join(copyLayer, "etc"))
	require.NoError(t, err)
	assert.Equal(t, fs.ModeDir|0o750, fi.Mode(), "the layer keeps /etc's mode")
	entries, err := os.ReadDir(filepath.Join(copyLayer, "etc"))
	require.NoError(t, err)
	require.Len(t, entries, 1, "the layer holds the copied file only")
	if os.Geteuid() == 0 {
		st := fileStat(t, filepath.Join(copyLayer, "etc"))
		assert.Equal(t, [2]uint32{0, 50}, [2]uint32{st.Uid, st.Gid}, "and its owner")
		st = fileStat(t, filepath.Join(copyLayer, "etc", "conf.txt"))
		assert.Equal(t, [2]uint32{1000, 50}, [2]uint32{st.Uid, st.Gid}, "--chown=app:staff by the image's names")
		st = fileStat(t, filepath.Join(img.Layers[2], "srv", "app", "run.sh"))
		assert.Equal(t, [2]uint32{0, 0}, [2]uint32{st.Uid, st.Gid}, "without --chown, root's")
	}
}

func fileStat(t *testing.T, p string) *syscall.Stat_t {
	t.Helper()
	fi, err := os.Lstat(p)
	require.NoError(t, err)
	return fi.Sys().(*syscall.Stat_t)
}

func TestS5_RebuildWithNothingChangedUsesTheCacheForEveryStep(t *testing.T) {
	f := newBuildFake(t)
	dockerfile := "FROM base\nRUN echo one\nCOPY a.txt /a.txt\nENV X=1\nRUN echo two\nCMD [\"sh\"]\n"
	files := map[string]string{"a.txt": "first"}
	id1, out1, err := f.build(dockerfile, files, Options{})
	require.NoError(t, err, out1)
	runs, commits := len(f.runs), len(f.commits)

	id2, out2, err := f.build(dockerfile, files, Options{})
	require.NoError(t, err, out2)
	assert.Equal(t, id1, id2, "the same steps give the same image")
	assert.Equal(t, 5, strings.Count(out2, " ---> Using cache\n"), out2)
	assert.NotContains(t, out2, "Running in")
	assert.Equal(t, runs, len(f.runs), "nothing ran again")
	assert.Equal(t, commits, len(f.commits), "nothing was committed again")

	// A changed file: the steps before its COPY come from the cache, the
	// COPY and every step after it are done again.
	id3, out3, err := f.build(dockerfile, map[string]string{"a.txt": "second"}, Options{})
	require.NoError(t, err, out3)
	assert.NotEqual(t, id1, id3)
	assert.Equal(t, 1, strings.Count(out3, "Using cache"), out3)
	assert.Equal(t, "second", f.read(id3, "a.txt"))
	assert.Equal(t, runs+1, len(f.runs))

	// --no-cache does everything again.
	_, out4, err := f.build(dockerfile, map[string]string{"a.txt": "second"}, Options{NoCache: true})
	require.NoError(t, err)
	assert.NotContains(t, out4, "Using cache")

	// A step whose image was removed is done again, not reused.
	for id := range f.images {
		if f.images[id].createdBy == "/bin/sh -c echo one" {
			delete(f.images, id)
		}
	}
	_, out5, err := f.build(dockerfile, files, Options{})
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(out5[strings.Index(out5, "Step 2/6"):], "Step 2/6 : RUN echo one\n ---> Running in"), out5)
}

func TestBuildArgs(t *testing.T) {
	f := newBuildFake(t)
	f.addBase("base:v2", image.ContainerConfig{}, map[string]string{"v2": "yes"})
	var env []string
	f.program = func(req RunRequest, upper string) int {
		env = req.Env
		return 0
	}
	dockerfile := `ARG TAG=latest
FROM base:${TAG}
ARG TAG
ARG VERSION=1.0
ARG UNSET
ENV VERSION_FROM_ENV=$VERSION
RUN make
`
	v2 := "2.5"
	tag := "v2"
	id, out, err := f.build(dockerfile, nil, Options{BuildArgs: map[string]*string{"VERSION": &v2, "TAG": &tag, "EXTRA": &v2, "UNSET": nil}})
	require.NoError(t, err, out)
	assert.Equal(t, "yes", f.read(id, "v2"), "FROM saw the build argument before the first FROM")
	assert.Contains(t, f.images[id].Config.Env, "VERSION_FROM_ENV=2.5")
	assert.Equal(t, []string{"TAG=v2", "VERSION=2.5"}, env, "RUN sees the arguments, sorted; UNSET has no value")
	assert.NotContains(t, strings.Join(f.images[id].Config.Env, " "), "TAG=", "arguments do not stay in the image")
	assert.Equal(t, "|2 TAG=v2 VERSION=2.5 /bin/sh -c make", f.history(id)[len(f.history(id))-1])
	assert.Contains(t, out, "[Warning] One or more build-args [EXTRA] were not consumed")

	// Another value, another RUN: the arguments are in its cache key.
	v3 := "3.0"
	_, out, err = f.build(dockerfile, nil, Options{BuildArgs: map[string]*string{"VERSION": &v3}})
	require.NoError(t, err)
	assert.Contains(t, out, "Step 7/7 : RUN make\n ---> Running in")
	assert.Equal(t, []string{"TAG=latest", "VERSION=3.0"}, env)
}

func TestEnvSubstitutionSeesTheEnvironmentBeforeTheInstruction(t *testing.T) {
	f := newBuildFake(t)
	id, out, err := f.build("FROM base\nENV A=old\nENV A=new B=$A C=${MISSING:-dflt}\nWORKDIR /x\nWORKDIR y/$A\nSTOPSIGNAL SIGINT\nVOLUME /data $A\nSHELL [\"/bin/bash\", \"-c\"]\nRUN echo\nENTRYPOINT echo\n", nil, Options{})
	require.NoError(t, err, out)
	cfg := f.images[id].Config
	assert.Equal(t, []string{"PATH=/usr/bin:/bin", "A=new", "B=old", "C=dflt"}, cfg.Env)
	assert.Equal(t, "/x/y/new", cfg.WorkingDir, "a relative WORKDIR is relative to the last")
	assert.Equal(t, "SIGINT", cfg.StopSignal)
	assert.Equal(t, map[string]struct{}{"/data": {}, "new": {}}, cfg.Volumes)
	assert.Equal(t, []string{"/bin/bash", "-c", "echo"}, cfg.Entrypoint, "SHELL changes the shell of the shell form")
	assert.Nil(t, cfg.Cmd, "ENTRYPOINT resets the base's CMD")
	assert.Equal(t, []string{"/bin/bash", "-c", "echo"}, f.runs[0].Command)
}

func TestCopySemantics(t *testing.T) {
	f := newBuildFake(t)
	files := map[string]string{
		"a.txt": "a", "b.txt": "b", "c.md": "c",
		"dir/x": "x", "dir/sub/y": "y", "dir/link": "-> x",
		"ignored.log": "secret", ".dockerignore": "*.log\n",
	}
	id, out, err := f.build(`FROM base
COPY *.txt /multi/
COPY dir /copied
COPY a.txt /bin/
COPY c.md /srv
COPY ["b.txt", "/named file"]
WORKDIR /w
COPY a.txt rel
COPY --chmod=600 a.txt /private
`, files, Options{})
	require.NoError(t, err, out)
	assert.Equal(t, "a", f.read(id, "multi/a.txt"))
	assert.Equal(t, "b", f.read(id, "multi/b.txt"))
	assert.Equal(t, "x", f.read(id, "copied/x"), "a directory's contents are copied, not the directory")
	assert.Equal(t, "y", f.read(id, "copied/sub/y"))
	n, err := f.view(id).lookup("copied/link")
	require.NoError(t, err)
	assert.True(t, n.fi.Mode()&fs.ModeSymlink != 0, "a link inside is copied as a link")
	assert.Equal(t, "a", f.read(id, "usr/bin/a.txt"), "/bin -> usr/bin is followed inside the image")
	n, err = f.view(id).lookup("bin")
	require.NoError(t, err)
	assert.True(t, n.fi.Mode()&fs.ModeSymlink != 0, "and stays a link")
	assert.Equal(t, "c", f.read(id, "srv/c.md"), "into an existing directory, the file keeps its name")
	assert.Equal(t, "b", f.read(id, "named file"))
	assert.Equal(t, "a", f.read(id, "w/rel"), "relative to WORKDIR")
	n, err = f.view(id).lookup("private")
	require.NoError(t, err)
	assert.Equal(t, fs.FileMode(0o600), n.fi.Mode())

	for _, c := range []struct{ dockerfile, msg string }{
		{"FROM base\nCOPY *.txt /notadir\n", "Dockerfile:2: when using COPY with more than one source file, the destination must be a directory and end with a /"},
		{"FROM base\nRUN true\nCOPY missing /x\n", "Dockerfile:3: COPY failed: file not found in build context or excluded by .dockerignore: stat missing: file does not exist"},
		{"FROM base\nCOPY ignored.log /x\n", "Dockerfile:2: COPY failed: file not found in build context or excluded by .dockerignore: stat ignored.log: file does not exist"},
		{"FROM base\nCOPY ../etc/passwd /x\n", "Dockerfile:2: forbidden path outside the build context: ../etc/passwd"},
		{"FROM base\nCOPY *.none /x/\n", "Dockerfile:2: COPY failed: no source files were specified"},
		{"FROM base\nADD http://example.com/x /x\n", "Dockerfile:2: ADD from a URL is not supported: no network (http://example.com/x)"},
		{"FROM base\nCOPY --chown=nobody a.txt /x\n", "Dockerfile:2: --chown=nobody: no nobody in the image's /etc/passwd"},
		{"FROM base\nCOPY --from=nowhere /x /x\n", "Dockerfile:2: COPY --from=nowhere: no such stage or image: no such image: nowhere"},
	} {
		_, out, err := f.build(c.dockerfile, files, Options{})
		require.Error(t, err, c.dockerfile)
		assert.Equal(t, c.msg, err.Error())
		assert.NotContains(t, out, "Successfully built")
	}
}

func TestCopyNeverWritesThroughALinkOutOfTheLayer(t *testing.T) {
	f := newBuildFake(t)
	outside := t.TempDir()
	// The first COPY puts a link to a host directory into the layer; the
	// second writes a directory of the same name. The link is replaced,
	// not followed.
	id, out, err := f.build("FROM base\nCOPY one/ two/ /dst/\n", map[string]string{
		"one/d":      "-> " + outside,
		"two/d/file": "payload",
	}, Options{})
	require.NoError(t, err, out)
	entries, err := os.ReadDir(outside)
	require.NoError(t, err)
	assert.Empty(t, entries, "nothing was written outside")
	assert.Equal(t, "payload", f.read(id, "dst/d/file"))

	// A link in the context is never followed to the host either.
	_, _, err = f.build("FROM base\nCOPY escape/passwd /x\n", map[string]string{"escape": "-> /etc"}, Options{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "file not found in build context")
}

func TestMultiStageCopyFrom(t *testing.T) {
	f := newBuildFake(t)
	f.program = func(req RunRequest, upper string) int {
		if strings.Contains(joinCommand(req.Command), "make") {
			require.NoError(t, os.MkdirAll(filepath.Join(upper, "out"), 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(upper, "out", "app"), []byte("binary"), 0o755))
		}
		return 0
	}
	id, out, err := f.build(`FROM base AS builder
RUN make
FROM base
COPY --from=builder /out/app /usr/local/bin/app
COPY --from=0 /etc/os-info /info
`, nil, Options{})
	require.NoError(t, err, out)
	assert.Equal(t, "binary", f.read(id, "usr/local/bin/app"))
	assert.Equal(t, "fake", f.read(id, "info"))
	assert.Len(t, f.images[id].Layers, 3, "the final image has the base and its two COPY layers, not the builder's")
}

func TestRunFailureStopsTheBuild(t *testing.T) {
	f := newBuildFake(t)
	f.program = func(req RunRequest, upper string) int {
		if strings.Contains(joinCommand(req.Command), "false") {
			return 1
		}
		return 0
	}
	_, out, err := f.build("FROM base\nRUN false\nRUN echo never\n", nil, Options{Tags: []string{"x:1"}})
	require.Error(t, err)
	assert.Equal(t, "The command '/bin/sh -c false' returned a non-zero code: 1", err.Error())
	var exit *ExitError
	require.True(t, errors.As(err, &exit))
	assert.Equal(t, 1, exit.Code)
	assert.NotContains(t, out, "Step 3/3")
	assert.NotContains(t, f.tags, "x:1")
	_, out, err = f.build("FROM base\nRUN [\"false\", \"x\"]\n", nil, Options{})
	require.Error(t, err)
	assert.Equal(t, "The command 'false x' returned a non-zero code: 1", err.Error())
}

func TestUnsupportedInstructionsAreRefusedBeforeAnythingIsBuilt(t *testing.T) {
	f := newBuildFake(t)
	for dockerfile, msg := range map[string]string{
		"FROM base\nRUN --mount=type=cache,target=/x true\n": "Dockerfile:2: RUN --mount is not supported by berth's classic builder",
		"FROM base\nSHELL /bin/bash -c\n":                    "Dockerfile:2: SHELL requires the arguments to be in JSON form",
		"FROM base\nONBUILD RUN true\n":                      "Dockerfile:2: ONBUILD is not supported by berth's builder",
	} {
		_, out, err := f.build(dockerfile, nil, Options{})
		require.Error(t, err)
		assert.Equal(t, msg, err.Error())
		assert.Empty(t, out, "nothing was built")
		var perr *ParseError
		assert.True(t, errors.As(err, &perr))
	}
	assert.Empty(t, f.runs)
	_, _, err := f.build("FROM nothing-here\n", nil, Options{})
	assert.EqualError(t, err, "Dockerfile:1: FROM nothing-here: no such image: nothing-here")
	_, _, err = f.build("FROM scratch\n", nil, Options{})
	assert.ErrorContains(t, err, "FROM scratch is not supported")
}

func TestLabelsOptionIsALastStep(t *testing.T) {
	f := newBuildFake(t)
	id, out, err := f.build("FROM base\nLABEL a=1\n", nil, Options{Labels: map[string]string{"b": "2", "a": "3"}})
	require.NoError(t, err)
	assert.Contains(t, out, "Step 3/3 : LABEL \"a\"=\"3\" \"b\"=\"2\"\n")
	assert.Equal(t, map[string]string{"a": "3", "b": "2"}, f.images[id].Config.Labels)
}

func TestBuildStopsWhenTheContextIsCancelled(t *testing.T) {
	f := newBuildFake(t)
	ctx, cancel := context.WithCancel(context.Background())
	f.program = func(req RunRequest, upper string) int { cancel(); return 0 }
	ctxDir := t.TempDir()
	df, err := Parse(strings.NewReader("FROM base\nRUN one\nRUN two\n"), "Dockerfile")
	require.NoError(t, err)
	_, err = Build(ctx, f, Options{Dockerfile: df, Context: ctxDir, Scratch: t.TempDir()})
	assert.ErrorIs(t, err, context.Canceled)
	assert.Len(t, f.runs, 1)
}

func TestAddUnpacksLocalArchives(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("unpacking keeps the archive's owners: needs root")
	}
	f := newBuildFake(t)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	require.NoError(t, tw.WriteHeader(&tar.Header{Name: "pkg/", Typeflag: tar.TypeDir, Mode: 0o755}))
	require.NoError(t, tw.WriteHeader(&tar.Header{Name: "pkg/file", Typeflag: tar.TypeReg, Mode: 0o644, Size: 4, Uid: 7}))
	_, err := tw.Write([]byte("data"))
	require.NoError(t, err)
	require.NoError(t, tw.Close())
	id, out, err := f.build("FROM base\nADD pkg.tar /opt/\nADD plain.txt /opt/plain.txt\nCOPY pkg.tar /copied.tar\n",
		map[string]string{"pkg.tar": buf.String(), "plain.txt": "plain"}, Options{})
	require.NoError(t, err, out)
	assert.Equal(t, "data", f.read(id, "opt/pkg/file"), "ADD unpacks a tar")
	assert.Equal(t, "plain", f.read(id, "opt/plain.txt"), "and copies anything else")
	assert.Equal(t, buf.String(), f.read(id, "copied.tar"), "COPY never unpacks")
	n, err := f.view(id).lookup("opt/pkg/file")
	require.NoError(t, err)
	assert.Equal(t, uint32(7), n.fi.Sys().(*syscall.Stat_t).Uid, "the archive's owners are kept")
}

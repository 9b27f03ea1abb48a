//go:build oci

package integration

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/berth-project/berth/01-namespaces/labtest"
	"github.com/berth-project/berth/06-images/image"
)

// runtime is an OCI runtime binary the tests drive through an engine.
type runtime struct {
	Name string // runc, berth
	Path string
}

// RuntimesEnv limits the runtimes the tests compare: "runc" checks the
// harness alone; the default is runc and berth.
const RuntimesEnv = "BERTH_OCI_RUNTIMES"

var (
	buildOnce sync.Once
	buildDir  string
	buildPath string
	buildErr  error
)

// TestMain removes the berth-runtime binary the tests built.
func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// BinaryEnv names a berth-runtime binary to test instead of building
// final/cmd/berth-runtime (an installed one: BERTH_RUNTIME=/usr/local/bin/berth-runtime).
const BinaryEnv = "BERTH_RUNTIME"

// berthRuntime builds final/cmd/berth-runtime once for the test binary.
func berthRuntime(t testing.TB) string {
	t.Helper()
	if path := os.Getenv(BinaryEnv); path != "" {
		return path
	}
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "berth-runtime-bin-")
		if buildErr != nil {
			return
		}
		buildPath = filepath.Join(buildDir, "berth-runtime")
		cmd := exec.Command("go", "build", "-tags", "netgo", "-o", buildPath, "./final/cmd/berth-runtime")
		cmd.Dir = labtest.RootDir(t)
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./final/cmd/berth-runtime: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatalf("%v", buildErr)
	}
	return buildPath
}

// runtimes lists the runtimes to compare, runc first: its transcript is
// the one the others must match.
func runtimes(t testing.TB) []runtime {
	t.Helper()
	labtest.Privileged(t)
	runc, err := exec.LookPath("runc")
	labtest.Need(t, err == nil, "runc is not installed (Debian: apt-get install runc)")
	list := []runtime{{Name: "runc", Path: runc}}
	want := os.Getenv(RuntimesEnv)
	if want == "" || strings.Contains(want, "berth") {
		list = append(list, runtime{Name: "berth", Path: berthRuntime(t)})
	}
	return list
}

// busyboxArchive writes the course's busybox rootfs as an image archive
// named busybox:latest (docker.io/library/busybox:latest in the OCI
// index), in a directory of t's, with chapter 06's store: Import makes the
// one-layer image, Save the archive that both `ctr images import` and
// `docker load` read.
func busyboxArchive(t testing.TB) string {
	t.Helper()
	rootfs := labtest.BusyboxRootfs(t)
	dir := t.TempDir()
	store, err := image.Open(filepath.Join(dir, "store"))
	if err != nil {
		t.Fatalf("image store: %v", err)
	}
	f, err := os.Open(rootfs + ".tar")
	if err != nil {
		t.Fatalf("busybox rootfs: %v", err)
	}
	defer f.Close()
	cfg := &image.ContainerConfig{
		Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
		Cmd: []string{"sh"},
	}
	if _, err := store.Import(f, image.ImportOptions{Ref: "busybox:latest", Config: cfg}); err != nil {
		t.Fatalf("importing busybox: %v", err)
	}
	path := filepath.Join(dir, "busybox.tar")
	out, err := os.Create(path)
	if err != nil {
		t.Fatalf("busybox archive: %v", err)
	}
	defer out.Close()
	if err := store.Save(out, []string{"busybox:latest"}); err != nil {
		t.Fatalf("saving busybox: %v", err)
	}
	if err := out.Close(); err != nil {
		t.Fatalf("busybox archive: %v", err)
	}
	return path
}

// result is what a client printed and its exit status.
type result struct {
	Stdout, Stderr string
	Code           int
}

// run runs a command and returns its result; err only when it could not
// be started at all.
func run(env []string, name string, args ...string) (result, error) {
	cmd := exec.Command(name, args...)
	cmd.Env = env
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	r := result{Stdout: out.String(), Stderr: errOut.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		r.Code = exit.ExitCode()
	case err != nil:
		return r, fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	return r, nil
}

// transcript collects what each step of a scenario printed, in a form
// that two runtimes' runs can be compared by: the runtime's own names
// (the container IDs) replaced by placeholders.
type transcript struct {
	lines   []string
	replace []string // old, new pairs
}

// logTime is the time stamp of a client's log line.
var logTime = regexp.MustCompile(`time="[^"]*"`)

func (tr *transcript) add(step string, r result) {
	out := r.Stdout
	errOut := logTime.ReplaceAllString(r.Stderr, `time="T"`)
	if len(tr.replace) > 0 {
		rep := strings.NewReplacer(tr.replace...)
		out, errOut = rep.Replace(out), rep.Replace(errOut)
	}
	tr.lines = append(tr.lines, fmt.Sprintf("%s: status %d", step, r.Code))
	tr.stream("stdout", out)
	tr.stream("stderr", errOut)
}

// knownDifferences are the lines in which berth-runtime's containers
// differ from runc's on purpose, each written the same for both
// runtimes so that the rest is compared. Each is a choice berth makes,
// said here and in docs/oci-runtime.md:
var knownDifferences = []struct {
	line   *regexp.Regexp
	as     string
	reason string
}{
	{regexp.MustCompile(`^tmpfs (/\S+) tmpfs ro,(nosuid,nodev,noexec,)?relatime\n$`), "tmpfs $1 tmpfs ro,<masked>,relatime\n",
		"a masked directory's empty read-only tmpfs is also nosuid,nodev,noexec under berth (chapter 03); runc mounts it ro only"},
}

// stream adds an output line by line, so that a difference between two
// transcripts shows as the lines that differ.
func (tr *transcript) stream(name, s string) {
	if s == "" {
		return
	}
	for _, line := range strings.SplitAfter(s, "\n") {
		for _, d := range knownDifferences {
			line = d.line.ReplaceAllString(line, d.as)
		}
		if line != "" {
			tr.lines = append(tr.lines, fmt.Sprintf("  %s: %q", name, line))
		}
	}
}

func (tr *transcript) note(step, s string) {
	if len(tr.replace) > 0 {
		s = strings.NewReplacer(tr.replace...).Replace(s)
	}
	tr.lines = append(tr.lines, fmt.Sprintf("%s: %s", step, s))
}

func (tr *transcript) String() string { return strings.Join(tr.lines, "\n") }

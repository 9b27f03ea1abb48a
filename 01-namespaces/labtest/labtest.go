package labtest

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/berth-project/berth/01-namespaces/namespace"
)

// RequireEnv is the environment variable that turns a skipped privileged
// test into a failed one. .ci/run sets it.
const RequireEnv = "BERTH_REQUIRE_PRIVILEGED"

// Privileged marks t as needing root. It skips t with a clear reason when
// the test is not running as root, and fails t instead when
// BERTH_REQUIRE_PRIVILEGED=1, so CI cannot pass by skipping.
func Privileged(t testing.TB) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	skipOrFail(t, "needs root (namespaces, mounts and cgroups are privileged); run as root: sudo go test ./...")
}

// Need skips or fails t (by the same rule as Privileged) when ok is false.
// Use it for kernel features: Need(t, haveOverlay(), "overlayfs is not available").
func Need(t testing.TB, ok bool, reason string) {
	t.Helper()
	if !ok {
		skipOrFail(t, reason)
	}
}

func skipOrFail(t testing.TB, reason string) {
	t.Helper()
	if os.Getenv(RequireEnv) == "1" {
		t.Fatalf("%s (and %s=1 forbids skipping)", reason, RequireEnv)
		return
	}
	t.Skip(reason)
}

// Unique returns prefix followed by a short random suffix, for names of
// host objects (cgroups, links, directories) that parallel test runs must
// not share. The result is at most len(prefix)+9 bytes: network device
// names are limited to 15.
func Unique(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b) // never fails: crypto/rand crashes the program instead
	return prefix + "-" + hex.EncodeToString(b)
}

// RootDir returns the module's root directory (the folder holding go.mod).
func RootDir(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("labtest: cannot find its own source file")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

var (
	rootfsOnce sync.Once
	rootfsDir  string
	rootfsErr  error
)

// BusyboxRootfs returns the path of the busybox root filesystem that
// scripts/mkrootfs builds, building it first if needed. The directory is
// shared by every test: treat it as read-only (chapter 03 mounts it as the
// container's root, chapter 04 as a read-only layer). BERTH_ROOTFS
// overrides the location.
func BusyboxRootfs(t testing.TB) string {
	t.Helper()
	Privileged(t)
	rootfsOnce.Do(func() {
		script := filepath.Join(RootDir(t), "scripts", "mkrootfs")
		out, err := exec.Command(script, "--print").CombinedOutput()
		if err != nil {
			rootfsErr = fmt.Errorf("%s: %w\n%s", script, err, out)
			return
		}
		lines := strings.Fields(string(out))
		if len(lines) == 0 {
			rootfsErr = fmt.Errorf("%s printed no path", script)
			return
		}
		rootfsDir = lines[len(lines)-1]
	})
	if rootfsErr != nil {
		t.Fatalf("building the busybox rootfs: %v", rootfsErr)
	}
	return rootfsDir
}

// Mounts returns the mount points in /proc/self/mountinfo, sorted. Take it
// before and after a test to show that nothing leaked onto the host.
func Mounts(t testing.TB) []string {
	t.Helper()
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatalf("reading mount table: %v", err)
	}
	defer f.Close()
	var points []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 {
			points = append(points, fields[4])
		}
	}
	sort.Strings(points)
	return points
}

// Main is TestMain for a package whose tests start containers. Such tests
// re-execute the test binary itself as the container's init (namespace.Start
// runs /proc/self/exe, which is the test binary), so the binary must act as
// init when it was started as one, exactly as a chapter's main does.
//
//	func TestMain(m *testing.M) { labtest.Main(m, containerInit) }
func Main(m *testing.M, containerInit func() int) {
	if namespace.IsInit() {
		os.Exit(containerInit())
	}
	os.Exit(m.Run())
}

// Run runs a chapter program's command line in-process, as a learner runs
// `go run ./NN-name ARGS...`, and returns what it printed and its exit
// status. The containers it starts re-execute the test binary, which Main
// turns into their init.
func Run(t testing.TB, p namespace.Program, args ...string) (stdout, stderr string, status int) {
	t.Helper()
	var out, errOut bytes.Buffer
	status = p.Run(args, namespace.Stdio{Out: &out, Err: &errOut})
	return out.String(), errOut.String(), status
}

package rootfs_test

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/01-namespaces/labtest"
	"github.com/berth-project/berth/01-namespaces/namespace"
	"github.com/berth-project/berth/03-rootfs/rootfs"
)

// containerSpec is what the tests send to the container's init: the
// chapter's spec, plus knobs that only the tests use.
type containerSpec struct {
	namespace.Spec
	Rootfs rootfs.Spec `json:"rootfs"`
	// NoNewPrivs calls rootfs.NoNewPrivileges after dropping capabilities.
	NoNewPrivs bool `json:"noNewPrivs,omitempty"`
	// Probe runs a check written in Go inside the finished container,
	// before the command: "pty" opens a pseudo-terminal pair, which no
	// busybox applet does.
	Probe string `json:"probe,omitempty"`
}

// TestMain doubles as the container's init: namespace.Start re-executes
// this test binary as "berth-init".
func TestMain(m *testing.M) {
	if namespace.IsInit() {
		os.Exit(containerInit())
	}
	os.Exit(m.Run())
}

// containerInit is the container side, composed as chapter 03's program
// composes it: Setup, Enter, DropCapabilities, Run.
func containerInit() int {
	// This test binary links cgo (testify imports net/http), so
	// DropCapabilities can change only the calling thread: stay on it
	// until namespace.Run execs the command.
	runtime.LockOSThread()
	var spec containerSpec
	if err := namespace.ReadSpec(&spec); err != nil {
		return initFailed(err)
	}
	if err := namespace.Setup(spec.Spec); err != nil {
		return initFailed(err)
	}
	if err := rootfs.Enter(spec.Rootfs); err != nil {
		return initFailed(err)
	}
	if err := rootfs.DropCapabilities(rootfs.DefaultCapabilities); err != nil {
		return initFailed(err)
	}
	if spec.NoNewPrivs {
		if err := rootfs.NoNewPrivileges(); err != nil {
			return initFailed(err)
		}
	}
	switch spec.Probe {
	case "":
	case "pty":
		if err := probePTY(); err != nil {
			return initFailed(err)
		}
	default:
		return initFailed(fmt.Errorf("unknown probe %q", spec.Probe))
	}
	return namespace.Run(spec.Spec)
}

func initFailed(err error) int {
	fmt.Fprintf(os.Stderr, "berth-init: %v\n", err)
	return 125
}

// probePTY gets a pseudo-terminal the way a terminal emulator or `docker
// run -t` does: open /dev/ptmx, unlock the slave, open /dev/pts/N, and
// pass a line through it.
func probePTY() error {
	master, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open /dev/ptmx: %w", err)
	}
	defer unix.Close(master)
	n, err := unix.IoctlGetUint32(master, unix.TIOCGPTN)
	if err != nil {
		return fmt.Errorf("TIOCGPTN: %w", err)
	}
	if err := unix.IoctlSetPointerInt(master, unix.TIOCSPTLCK, 0); err != nil {
		return fmt.Errorf("unlockpt: %w", err)
	}
	name := fmt.Sprintf("/dev/pts/%d", n)
	slave, err := unix.Open(name, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", name, err)
	}
	defer unix.Close(slave)
	if _, err := unix.Write(slave, []byte("ping\n")); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	buf := make([]byte, 64)
	got, err := unix.Read(master, buf)
	if err != nil {
		return fmt.Errorf("read /dev/ptmx: %w", err)
	}
	// The terminal's output processing turns "\n" into "\r\n".
	fmt.Printf("pty %s %q\n", name, buf[:got])
	return nil
}

// result is what a container printed and its exit status.
type result struct {
	Stdout, Stderr string
	Status         int
}

// start runs spec in a container with the namespaces of cfg and waits for
// it to exit.
func start(t *testing.T, cfg namespace.Config, spec containerSpec) result {
	t.Helper()
	if spec.Hostname == "" {
		spec.Hostname = "rootfs-test"
	}
	cfg.Hostname = spec.Hostname
	if spec.Command.Env == nil {
		spec.Command.Env = namespace.DefaultEnv(spec.Hostname)
	}
	var stdout, stderr bytes.Buffer
	p, err := namespace.Start(cfg, namespace.Stdio{Out: &stdout, Err: &stderr})
	require.NoError(t, err)
	if err := p.Release(spec); err != nil {
		_ = p.Kill()
		t.Fatalf("release: %v", err)
	}
	status, err := p.Wait()
	require.NoError(t, err)
	return result{Stdout: stdout.String(), Stderr: stderr.String(), Status: status}
}

// sh runs a shell script in a container on the given filesystem, and
// fails the test unless it exits 0.
func sh(t *testing.T, cfg namespace.Config, fs rootfs.Spec, script string) result {
	t.Helper()
	res := start(t, cfg, containerSpec{
		Spec:   namespace.Spec{Command: namespace.Command{Args: []string{"/bin/sh", "-c", script}, Dir: fs.Workdir}},
		Rootfs: fs,
	})
	require.Equal(t, 0, res.Status, "script:\n%s\nstdout:\n%s\nstderr:\n%s", script, res.Stdout, res.Stderr)
	return res
}

// lines splits output into lines, without the empty last one.
func lines(s string) []string {
	return strings.Split(strings.TrimRight(s, "\n"), "\n")
}

// mount is one line of /proc/self/mountinfo.
type mount struct {
	Point, Root, Options, FSType, SuperOptions string
}

// parseMountinfo reads the mount table as /proc/self/mountinfo shows it.
func parseMountinfo(t *testing.T, text string) map[string]mount {
	t.Helper()
	mounts := map[string]mount{}
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		sep := slices.Index(f, "-")
		require.True(t, sep > 5 && len(f) > sep+3, "mountinfo line %q", sc.Text())
		// A later mount on the same point covers the earlier one.
		mounts[f[4]] = mount{Point: f[4], Root: f[3], Options: f[5], FSType: f[sep+1], SuperOptions: f[sep+3]}
	}
	return mounts
}

// hostMounts is labtest.Mounts restricted to the mount points that this
// package's tests could leak into: the system mounts and the given
// directories. Other packages, tested in parallel, mount elsewhere.
func hostMounts(t *testing.T, dirs ...string) []string {
	t.Helper()
	var mine []string
	for _, m := range labtest.Mounts(t) {
		keep := m == "/" || under(m, "/proc") || under(m, "/sys") || under(m, "/dev")
		for _, d := range dirs {
			keep = keep || under(m, d)
		}
		if keep {
			mine = append(mine, m)
		}
	}
	return mine
}

func under(p, dir string) bool { return p == dir || strings.HasPrefix(p, dir+"/") }

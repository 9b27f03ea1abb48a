package labtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// CopyRootfs copies the shared busybox rootfs into a temporary directory,
// for a test that writes into its root filesystem (the shared one is
// read-only by convention).
func CopyRootfs(t testing.TB) string {
	t.Helper()
	src := BusyboxRootfs(t)
	dst := t.TempDir()
	if out, err := exec.Command("cp", "-a", src+"/.", dst).CombinedOutput(); err != nil {
		t.Fatalf("copying %s: %v\n%s", src, err, out)
	}
	return dst
}

// DistroRootfs builds a small "distribution" root filesystem from the
// host's own files: bash and ls with the shared libraries and the dynamic
// loader they need, laid out merged-/usr style as Debian and Fedora do
// (bin -> usr/bin, lib -> usr/lib, lib64 -> usr/lib64). It has no /proc,
// /sys or /dev, and its /var/run is an absolute symlink to /run, as on
// Debian: the chapters must cope with an ordinary image, not only busybox.
func DistroRootfs(t testing.TB) string {
	t.Helper()
	Privileged(t)
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("building a distribution rootfs: %v", err)
		}
	}
	for _, d := range []string{"usr/bin", "usr/lib", "usr/lib64", "run", "var", "etc", "root", "tmp"} {
		must(os.MkdirAll(filepath.Join(dir, d), 0o755))
	}
	for link, target := range map[string]string{
		"bin": "usr/bin", "lib": "usr/lib", "lib64": "usr/lib64", "var/run": "/run",
	} {
		must(os.Symlink(target, filepath.Join(dir, link)))
	}
	must(os.WriteFile(filepath.Join(dir, "etc/passwd"), []byte("root:x:0:0:root:/root:/bin/bash\n"), 0o644))
	files := map[string]bool{}
	for _, prog := range []string{"bash", "ls", "cat"} {
		path, err := exec.LookPath(prog)
		must(err)
		real, err := filepath.EvalSymlinks(path)
		must(err)
		files[real] = true
		out, err := exec.Command("ldd", real).Output()
		must(err)
		// "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" and
		// "/lib64/ld-linux-x86-64.so.2 (0x...)"; linux-vdso has no file.
		for _, f := range strings.Fields(string(out)) {
			if strings.HasPrefix(f, "/") {
				files[f] = true
			}
		}
	}
	for path := range files {
		real, err := filepath.EvalSymlinks(path)
		must(err)
		data, err := os.ReadFile(real)
		must(err)
		// Keep the name the binary asks for (/lib64/ld-linux...):
		// through the image's own symlinks it lands under usr/.
		dst := filepath.Join(dir, path)
		must(os.MkdirAll(filepath.Dir(dst), 0o755))
		must(os.WriteFile(dst, data, 0o755))
	}
	return dir
}

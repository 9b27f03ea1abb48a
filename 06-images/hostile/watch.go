package hostile

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// Watch is a record of what lies around a data root, taken before a
// hostile tar goes in, to prove after it that nothing outside the data
// root was made or changed.
//
// It records, for each directory watched, every entry below it (type,
// mode, owner, size, link count, modification time, symlink target,
// and a hash of the content of regular files), except those under the
// paths it was told to skip (the data root itself, which the operation
// is allowed to change). It also records the host's /etc/passwd, the
// favourite target, as far as a hostile tar could change it (see
// describeHostFile), and checks that no file named Escaped appeared in
// "/", "/tmp" or "/etc".
type Watch struct {
	dirs     []string
	skip     map[string]bool
	allowNew map[string]bool
	before   map[string]string
}

// hostFiles are host files every watch checks, whatever it was told.
var hostFiles = []string{"/etc/passwd", "/etc/shadow", "/etc/hosts"}

// escapeDirs are where the corpus's climbing names would land.
var escapeDirs = []string{"/", "/tmp", "/etc"}

// NewWatch records dirs (walked whole), skipping the paths in skip.
func NewWatch(t testing.TB, dirs []string, skip ...string) *Watch {
	t.Helper()
	w := &Watch{dirs: dirs, skip: map[string]bool{}, allowNew: map[string]bool{}}
	for _, s := range skip {
		w.skip[filepath.Clean(s)] = true
	}
	var err error
	if w.before, err = w.snapshot(); err != nil {
		t.Fatalf("hostile watch: %v", err)
	}
	return w
}

// AllowNew lets new entries appear directly in dir (and anything under
// them): for a test's own temporary directory, where the testing package
// and helpers (the docker CLI's config) make directories while the test
// runs. What was in dir before is still checked.
func (w *Watch) AllowNew(dir string) { w.allowNew[filepath.Clean(dir)] = true }

// allowed says whether p, new, is under a new entry of an AllowNew dir.
func (w *Watch) allowed(p string) bool {
	for a := p; a != filepath.Dir(a); a = filepath.Dir(a) {
		if w.allowNew[filepath.Dir(a)] {
			_, existed := w.before[a]
			return !existed
		}
	}
	return false
}

// Check fails t for every entry made, changed or removed since NewWatch
// outside the skipped paths, and for an Escaped file on the host (which
// it removes).
func (w *Watch) Check(t testing.TB, what string) {
	t.Helper()
	after, err := w.snapshot()
	if err != nil {
		t.Fatalf("hostile watch: %v", err)
	}
	for p, b := range w.before {
		if a, ok := after[p]; !ok {
			t.Errorf("%s: %s was removed", what, p)
		} else if a != b {
			t.Errorf("%s: %s changed: %s, was %s", what, p, a, b)
		}
	}
	for p, a := range after {
		if _, ok := w.before[p]; !ok && !w.allowed(p) {
			t.Errorf("%s: %s appeared outside the data root: %s", what, p, a)
		}
	}
	for _, d := range escapeDirs {
		p := filepath.Join(d, Escaped)
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s: %s appeared on the host", what, p)
			_ = os.RemoveAll(p)
		}
	}
}

func (w *Watch) snapshot() (map[string]string, error) {
	state := map[string]string{}
	for _, f := range hostFiles {
		if d, err := describeHostFile(f); err == nil {
			state[f] = d
		}
	}
	for _, dir := range w.dirs {
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				// Gone between listing and reading: a sibling's
				// own work (another test's temporary file).
				if errors.Is(err, fs.ErrNotExist) {
					return nil
				}
				return err
			}
			if w.skip[p] {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			desc, err := describe(p)
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			if err != nil {
				return err
			}
			if p == dir {
				return nil // the directory's own times change as siblings come and go
			}
			state[p] = desc
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("walking %s: %w", dir, err)
		}
	}
	return state, nil
}

// describeHostFile is what a hostile tar could change of a host file
// like /etc/passwd, and nothing that another test running beside may
// change as it should: a test of user namespaces adds and removes its
// own users (useradd writes a new file and renames it over the old one,
// so the size, times and inode change, the rest stays). A write through
// an escaped path replaces the content (the corpus writes one line of
// its own), so the first line, root's, is compared; a hard link into a
// data root raises the link count; a symlink or a chmod shows in the
// type and mode.
func describeHostFile(p string) (string, error) {
	var st syscall.Stat_t
	if err := syscall.Lstat(p, &st); err != nil {
		return "", err
	}
	desc := fmt.Sprintf("mode=%o uid=%d gid=%d nlink=%d", st.Mode, st.Uid, st.Gid, st.Nlink)
	if st.Mode&syscall.S_IFMT == syscall.S_IFREG {
		data, err := os.ReadFile(p)
		if err != nil {
			return "", err
		}
		first, _, _ := strings.Cut(string(data), "\n")
		sum := sha256.Sum256([]byte(first))
		desc += " first-line-sha256=" + hex.EncodeToString(sum[:8])
	}
	return desc, nil
}

// describe is one entry's state, as a string to compare.
func describe(p string) (string, error) {
	var st syscall.Stat_t
	if err := syscall.Lstat(p, &st); err != nil {
		return "", err
	}
	desc := fmt.Sprintf("mode=%o uid=%d gid=%d size=%d nlink=%d mtime=%d.%d",
		st.Mode, st.Uid, st.Gid, st.Size, st.Nlink, st.Mtim.Sec, st.Mtim.Nsec)
	switch st.Mode & syscall.S_IFMT {
	case syscall.S_IFLNK:
		target, err := os.Readlink(p)
		if err != nil {
			return "", err
		}
		desc += " -> " + target
	case syscall.S_IFREG:
		if st.Size <= 1<<20 {
			data, err := os.ReadFile(p)
			if err != nil {
				return "", err
			}
			sum := sha256.Sum256(data)
			desc += " sha256=" + hex.EncodeToString(sum[:8])
		}
	case syscall.S_IFDIR:
		// A directory's size and times follow its entries, which the
		// walk compares one by one.
		desc = fmt.Sprintf("dir mode=%o uid=%d gid=%d", st.Mode, st.Uid, st.Gid)
	}
	return desc, nil
}

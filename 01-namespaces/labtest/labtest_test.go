package labtest

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recorder stands in for *testing.T to see what Need decides.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Helper()                   {}
func (r *recorder) Skip(args ...any)          { r.skipped = fmt.Sprint(args...) }
func (r *recorder) Fatalf(f string, a ...any) { r.failed = fmt.Sprintf(f, a...) }

func TestNeedSkipsByDefault(t *testing.T) {
	t.Setenv(RequireEnv, "")
	r := &recorder{TB: t}
	Need(r, false, "needs a kernel feature")
	assert.Equal(t, "needs a kernel feature", r.skipped)
	assert.Empty(t, r.failed)
}

func TestNeedFailsWhenPrivilegedTestsAreRequired(t *testing.T) {
	t.Setenv(RequireEnv, "1")
	r := &recorder{TB: t}
	Need(r, false, "needs a kernel feature")
	assert.Empty(t, r.skipped)
	assert.Contains(t, r.failed, "needs a kernel feature")
	assert.Contains(t, r.failed, RequireEnv+"=1")
}

func TestNeedDoesNothingWhenMet(t *testing.T) {
	t.Setenv(RequireEnv, "1")
	r := &recorder{TB: t}
	Need(r, true, "never said")
	assert.Empty(t, r.skipped+r.failed)
}

func TestUniqueNamesDifferAndFitADeviceName(t *testing.T) {
	a, b := Unique("bt"), Unique("bt")
	assert.NotEqual(t, a, b)
	assert.LessOrEqual(t, len(a), 15)
}

// TestTreeSeesEveryKindOfChange: each change to a tree changes its
// description, and reading it does not.
func TestTreeSeesEveryKindOfChange(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(dir string) error
		same   bool
	}{
		{"read a file", func(dir string) error { _, err := os.ReadFile(filepath.Join(dir, "f")); return err }, true},
		{"contents, same size", func(dir string) error { return os.WriteFile(filepath.Join(dir, "f"), []byte("HELLO"), 0o644) }, false},
		{"mode", func(dir string) error { return os.Chmod(filepath.Join(dir, "f"), 0o600) }, false},
		{"link target", func(dir string) error {
			if err := os.Remove(filepath.Join(dir, "l")); err != nil {
				return err
			}
			return os.Symlink("g", filepath.Join(dir, "l"))
		}, false},
		{"a file made and removed", func(dir string) error {
			if err := os.WriteFile(filepath.Join(dir, "d", "x"), nil, 0o644); err != nil {
				return err
			}
			return os.Remove(filepath.Join(dir, "d", "x"))
		}, false},
		{"a new directory", func(dir string) error { return os.Mkdir(filepath.Join(dir, "d", "e"), 0o755) }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(dir, "f"), []byte("hello"), 0o644))
			require.NoError(t, os.Symlink("f", filepath.Join(dir, "l")))
			require.NoError(t, os.Mkdir(filepath.Join(dir, "d"), 0o755))
			old := time.Unix(1e9, 0) // so that a change within the same clock tick shows
			for _, p := range []string{"f", "d", "."} {
				require.NoError(t, os.Chtimes(filepath.Join(dir, p), old, old))
			}
			before := Tree(t, dir)
			require.NoError(t, tc.change(dir))
			if tc.same {
				assert.Equal(t, before, Tree(t, dir))
			} else {
				assert.NotEqual(t, before, Tree(t, dir))
			}
		})
	}
}

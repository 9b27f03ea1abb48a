package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// entries lists dir's names, to see what a write left behind.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	return names
}

func TestWriteFile(t *testing.T) {
	for _, tc := range []struct {
		name     string
		opts     Options
		old      bool // a file is there to be replaced
		tempDir  bool // Options.TempDir is a sibling directory
		wantMode os.FileMode
	}{
		{name: "new file, zero options", wantMode: 0o600},
		{name: "replace", old: true, wantMode: 0o600},
		{name: "mode 0644", opts: Options{Perm: 0o644}, old: true, wantMode: 0o644},
		{name: "mode 0640", opts: Options{Perm: 0o640}, wantMode: 0o640},
		{name: "durable new", opts: Options{Durable: true}, wantMode: 0o600},
		{name: "durable replace", opts: Options{Durable: true, Perm: 0o644}, old: true, wantMode: 0o644},
		{name: "exchange replace", opts: Options{Exchange: true, Perm: 0o644}, old: true, wantMode: 0o644},
		{name: "exchange with nothing to exchange", opts: Options{Exchange: true}, wantMode: 0o600},
		{name: "exchange and durable", opts: Options{Exchange: true, Durable: true}, old: true, wantMode: 0o600},
		{name: "temp dir", tempDir: true, old: true, wantMode: 0o600},
		{name: "temp dir durable", opts: Options{Durable: true}, tempDir: true, wantMode: 0o600},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			dir := filepath.Join(root, "d")
			require.NoError(t, os.Mkdir(dir, 0o755))
			path := filepath.Join(dir, "state.json")
			if tc.old {
				require.NoError(t, os.WriteFile(path, []byte("old content, longer than the new"), 0o666))
			}
			opts := tc.opts
			if tc.tempDir {
				opts.TempDir = filepath.Join(root, "tmp")
				require.NoError(t, os.Mkdir(opts.TempDir, 0o700))
			}

			require.NoError(t, WriteFile(path, []byte("new"), opts))

			got, err := os.ReadFile(path)
			require.NoError(t, err)
			assert.Equal(t, "new", string(got))
			fi, err := os.Stat(path)
			require.NoError(t, err)
			assert.Equal(t, tc.wantMode, fi.Mode().Perm())
			assert.Equal(t, []string{"state.json"}, entries(t, dir), "no temporary file left")
			if tc.tempDir {
				assert.Empty(t, entries(t, opts.TempDir))
			}
		})
	}
}

func TestWriteStreams(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.tar")
	require.NoError(t, Write(path, Options{Perm: 0o644}, func(w io.Writer) error {
		for _, s := range []string{"a", "b", "c"} {
			if _, err := io.WriteString(w, s); err != nil {
				return err
			}
		}
		return nil
	}))
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "abc", string(got))
}

// TestWriteFails checks the failures: each names the path, leaves the
// old file as it was, and leaves no temporary file.
func TestWriteFails(t *testing.T) {
	errFill := errors.New("the source broke")
	for _, tc := range []struct {
		name string
		// setup returns the path to write, and the directory whose
		// entries must not change.
		setup   func(t *testing.T, root string) (path string, watch string)
		opts    Options
		fill    func(io.Writer) error
		wantErr error
	}{
		{
			name: "directory missing",
			setup: func(t *testing.T, root string) (string, string) {
				return filepath.Join(root, "missing", "state.json"), root
			},
			wantErr: os.ErrNotExist,
		},
		{
			name: "temp dir missing",
			setup: func(t *testing.T, root string) (string, string) {
				return filepath.Join(root, "state.json"), root
			},
			opts:    Options{TempDir: "/nonexistent-berth-atomicfile"},
			wantErr: os.ErrNotExist,
		},
		{
			name: "fill fails",
			setup: func(t *testing.T, root string) (string, string) {
				return filepath.Join(root, "state.json"), root
			},
			fill:    func(io.Writer) error { return errFill },
			wantErr: errFill,
		},
		{
			name: "fill fails, durable exchange",
			setup: func(t *testing.T, root string) (string, string) {
				return filepath.Join(root, "state.json"), root
			},
			opts:    Options{Durable: true, Exchange: true},
			fill:    func(io.Writer) error { return errFill },
			wantErr: errFill,
		},
		{
			name: "rename fails: target is a directory",
			setup: func(t *testing.T, root string) (string, string) {
				path := filepath.Join(root, "state.json")
				require.NoError(t, os.Mkdir(path, 0o755))
				require.NoError(t, os.WriteFile(filepath.Join(path, "inside"), nil, 0o600))
				return path, root
			},
		},
		{
			name: "rename fails: target's directory gone, temp dir there",
			setup: func(t *testing.T, root string) (string, string) {
				tmp := filepath.Join(root, "tmp")
				require.NoError(t, os.Mkdir(tmp, 0o700))
				return filepath.Join(root, "gone", "state.json"), tmp
			},
			wantErr: os.ErrNotExist,
		},
		{
			name: "exchange fails: target's directory gone, temp dir there",
			setup: func(t *testing.T, root string) (string, string) {
				tmp := filepath.Join(root, "tmp")
				require.NoError(t, os.Mkdir(tmp, 0o700))
				return filepath.Join(root, "gone", "state.json"), tmp
			},
			opts:    Options{Exchange: true},
			wantErr: os.ErrNotExist,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			path, watch := tc.setup(t, root)
			opts := tc.opts
			if opts.TempDir == "" && filepath.Base(watch) == "tmp" {
				opts.TempDir = watch
			}
			if _, err := os.Stat(filepath.Dir(path)); err == nil {
				if fi, err := os.Stat(path); err != nil || !fi.IsDir() {
					require.NoError(t, os.WriteFile(path, []byte("old"), 0o600))
				}
			}
			before := entries(t, watch)
			fill := tc.fill
			if fill == nil {
				fill = func(w io.Writer) error { _, err := io.WriteString(w, "new"); return err }
			}

			err := Write(path, opts, fill)

			require.Error(t, err)
			assert.Contains(t, err.Error(), path)
			if tc.wantErr != nil {
				assert.ErrorIs(t, err, tc.wantErr)
			}
			assert.Equal(t, before, entries(t, watch), "no temporary file left")
			if fi, err := os.Stat(path); err == nil && !fi.IsDir() {
				got, err := os.ReadFile(path)
				require.NoError(t, err)
				assert.Equal(t, "old", string(got), "the old file stands")
			}
		})
	}
}

func TestSync(t *testing.T) {
	for _, tc := range []struct {
		name string
		sync func(string) error
	}{
		{"SyncDir", SyncDir},
		{"SyncFS", SyncFS},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.NoError(t, tc.sync(t.TempDir()))
			err := tc.sync("/nonexistent-berth-atomicfile")
			require.ErrorIs(t, err, os.ErrNotExist)
			assert.Contains(t, err.Error(), "/nonexistent-berth-atomicfile")
		})
	}
}

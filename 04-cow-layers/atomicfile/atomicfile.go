package atomicfile

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Options say how a file is replaced. The zero Options write a file of
// mode 0600, beside its final name, without waiting for the disk.
type Options struct {
	// Perm is the new file's mode, whatever the umask; zero is 0600.
	Perm os.FileMode
	// Durable flushes the file to disk before the rename and the
	// directory after it, so that the new content survives a crash of
	// the machine.
	Durable bool
	// TempDir is where the file is written before it is renamed into
	// place; it must be on the target's filesystem. Empty is the
	// target's own directory.
	TempDir string
	// Exchange swaps the new file with the old one rather than renaming
	// over it: engine tuning, see tuning_exchange.go.
	Exchange bool
}

// WriteFile replaces path with data.
func WriteFile(path string, data []byte, o Options) error {
	return Write(path, o, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// Write replaces path with what fill writes. When fill, or any step
// after it, fails, path is left as it was and the temporary file is
// removed; the error names path.
func Write(path string, o Options, fill func(io.Writer) error) error {
	dir := o.TempDir
	if dir == "" {
		dir = filepath.Dir(path)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	tmp := f.Name()
	err = fill(f)
	if perm := o.Perm; err == nil && perm != 0 && perm != 0o600 {
		err = f.Chmod(perm) // CreateTemp made it 0600
	}
	if err == nil && o.Durable {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = replace(tmp, path, o.Exchange)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if o.Durable {
		if err := SyncDir(filepath.Dir(path)); err != nil {
			return fmt.Errorf("writing %s: %w", path, err)
		}
	}
	return nil
}

// replace puts tmp in place of path.
func replace(tmp, path string, exchange bool) error {
	if exchange {
		if swapped, err := swapIn(tmp, path); swapped || err != nil {
			return err
		}
	}
	return os.Rename(tmp, path)
}

// SyncDir flushes dir to disk, which makes the renames and the new
// entries in it durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	return nil
}

// SyncFS flushes the whole filesystem that holds dir (syncfs(2)): for
// many files written at once, such as an extracted layer, one call is
// cheaper than an fsync of each.
func SyncFS(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	err = unix.Syncfs(int(d.Fd()))
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("syncing the filesystem of %s: %w", dir, err)
	}
	return nil
}

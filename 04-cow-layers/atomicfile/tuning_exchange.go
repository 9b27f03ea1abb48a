// Engine tuning: skip on first reading; docs/performance.md tells why it
// exists. Without it a file is replaced by an ordinary rename over the
// old one, which is just as atomic for readers.

package atomicfile

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// swapIn puts the finished file tmp in place of path by exchanging the
// two (renameat2's RENAME_EXCHANGE), then deletes tmp, which now holds
// the old content. It reports false, and no error, when there is no old
// file to exchange with (ENOENT) or the filesystem cannot exchange
// (EINVAL): the caller then renames tmp over path as usual.
//
// Why not always the rename: a rename over an existing file costs more
// on ext4. Replacing a file by a rename makes ext4 write the new file's
// blocks out at once (auto_da_alloc, its guard against empty files after
// a crash), and deleting the old file's blocks then waits for the disk
// on a filesystem mounted with discard: 0.3 to 0.4 ms per replace on the
// machine where it was traced, against 0.12 ms for an exchange and an
// unlink. For both, readers see the old file or the new one, never a
// part. The price is the guard ext4 gave up: after a crash of the
// machine, a replaced file may be empty, its blocks never written. So
// only callers that survive that ask for it: chapter 05 rebuilds an
// empty state.json from the endpoints (rebuildState), and chapter 07
// exchanges only the files it writes without waiting for the disk, and
// reads a torn state.json as a run that died (rawState).
func swapIn(tmp, path string) (bool, error) {
	err := unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, path, unix.RENAME_EXCHANGE)
	if err == nil {
		_ = os.Remove(tmp) // the old content
		return true, nil
	}
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EINVAL) {
		return false, nil
	}
	return false, err
}

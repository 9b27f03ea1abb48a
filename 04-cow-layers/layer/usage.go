package layer

import (
	"fmt"
	"io/fs"
	"path/filepath"
	"syscall"
)

// DiskUsage is the disk space that the files under dir occupy, in bytes,
// as `du -sx` counts it: allocated blocks (st_blocks, in 512-byte units),
// not file sizes, each hard-linked file once, and nothing on another
// filesystem mounted below dir.
func DiskUsage(dir string) (int64, error) {
	type inode struct{ dev, ino uint64 }
	seen := map[inode]bool{}
	var rootDev uint64
	var total int64
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return fmt.Errorf("%s: no stat information", p)
		}
		if p == dir {
			rootDev = st.Dev
		} else if st.Dev != rootDev {
			if d.IsDir() {
				return filepath.SkipDir // a mount: not ours to count
			}
			return nil
		}
		key := inode{st.Dev, st.Ino}
		if st.Nlink > 1 && seen[key] {
			return nil
		}
		seen[key] = true
		total += st.Blocks * 512
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("disk usage of %s: %w", dir, err)
	}
	return total, nil
}

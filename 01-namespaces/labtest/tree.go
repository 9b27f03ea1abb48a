package labtest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// Tree describes every entry under root, one line each, in lexical
// order: its path (relative to root), mode, owner, modification time,
// and a file's size and the sha256 of its contents or a link's target.
// Take it before and after: two equal lists mean the tree was not
// changed, neither its files nor its directories (a file created and
// removed again changes its directory's mtime). Access times are left
// out, since reading a file changes them.
func Tree(t testing.TB, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		line := fmt.Sprintf("%q %v", rel, fi.Mode())
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			line += fmt.Sprintf(" %d:%d", st.Uid, st.Gid)
		}
		line += fmt.Sprintf(" %d", fi.ModTime().UnixNano())
		switch {
		case fi.Mode().IsRegular():
			sum, err := fileSHA256(path)
			if err != nil {
				return err
			}
			line += fmt.Sprintf(" %d %s", fi.Size(), sum)
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(path)
			if err != nil {
				return err
			}
			line += fmt.Sprintf(" -> %q", target)
		}
		out = append(out, line)
		return nil
	})
	if err != nil {
		t.Fatalf("labtest: describing the tree %s: %v", root, err)
	}
	return out
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

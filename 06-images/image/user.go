package image

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"

	"github.com/berth-project/berth/04-cow-layers/layer"
)

// Users: an image's USER, docker run -u and docker exec -u take "user[:group]", each a
// name or a number, and Docker resolves names in the container's own
// /etc/passwd and /etc/group, never the host's: a uid means nothing
// outside the image it was made for.
//
// The files are read from root directories given topmost first: an
// image's layers (for run -u, at create, before the container has a
// root filesystem of its own), or /proc/PID/root, the root a running
// container sees (for exec -u). Each file is opened with os.Root inside
// its directory: the image comes from somebody else, and a symlink in it
// must not lead to the host's files.

// LookupUser resolves user in the passwd and group files found in roots,
// topmost first. "" is root. A number needs no entry: a uid alone gets
// the gid of its passwd entry if there is one, else 0, as Docker does.
func LookupUser(roots []string, user string) (uid, gid uint32, err error) {
	if user == "" {
		return 0, 0, nil
	}
	name, group, hasGroup := strings.Cut(user, ":")
	if name == "" || (hasGroup && group == "") {
		return 0, 0, fmt.Errorf("invalid user %q: want USER[:GROUP]", user)
	}
	n, numeric := parseID(name)
	entry, found, err := findEntry(roots, "etc/passwd", func(f []string) bool {
		if numeric {
			id, ok := parseID(f[2])
			return ok && id == n
		}
		return f[0] == name
	})
	if err != nil {
		return 0, 0, err
	}
	switch {
	case found:
		uid, _ = parseID(entry[2])
		if len(entry) > 3 {
			gid, _ = parseID(entry[3])
		}
	case numeric:
		uid = n
	default:
		return 0, 0, fmt.Errorf("unable to find user %s: no matching entries in passwd file", name)
	}
	if !hasGroup {
		return uid, gid, nil
	}
	if g, ok := parseID(group); ok {
		return uid, g, nil
	}
	entry, found, err = findEntry(roots, "etc/group", func(f []string) bool { return f[0] == group })
	if err != nil {
		return 0, 0, err
	}
	if !found {
		return 0, 0, fmt.Errorf("unable to find group %s: no matching entries in group file", group)
	}
	gid, _ = parseID(entry[2])
	return uid, gid, nil
}

func parseID(s string) (uint32, bool) {
	n, err := strconv.ParseUint(s, 10, 32)
	return uint32(n), err == nil
}

// findEntry finds the line of file (etc/passwd, etc/group) that match
// accepts, in the topmost root that has the file. Lines have at least
// three colon-separated fields. A file deleted in a layer (a whiteout)
// hides the layers below.
func findEntry(roots []string, file string, match func([]string) bool) ([]string, bool, error) {
	for _, dir := range roots {
		root, err := os.OpenRoot(dir)
		if err != nil {
			return nil, false, fmt.Errorf("looking up users: %w", err)
		}
		fi, err := root.Lstat(file)
		if errors.Is(err, fs.ErrNotExist) {
			root.Close()
			continue
		}
		if err == nil && layer.IsWhiteout(fi) {
			root.Close()
			return nil, false, nil
		}
		f, err := root.Open(file)
		root.Close()
		if err != nil {
			return nil, false, fmt.Errorf("looking up users: /%s: %w", file, err)
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Split(sc.Text(), ":")
			if len(fields) >= 3 && match(fields) {
				return fields, true, nil
			}
		}
		return nil, false, sc.Err()
	}
	return nil, false, nil
}

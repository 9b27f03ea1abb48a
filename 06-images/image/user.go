package image

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"slices"
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
	entry, found, err := findUser(roots, name)
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

// findUser finds the passwd entry of name: a user name, or a uid.
func findUser(roots []string, name string) ([]string, bool, error) {
	n, numeric := parseID(name)
	return findEntry(roots, "etc/passwd", func(f []string) bool {
		if numeric {
			id, ok := parseID(f[2])
			return ok && id == n
		}
		return f[0] == name
	})
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
	var found []string
	err := eachEntry(roots, file, func(f []string) bool {
		if match(f) {
			found = f
			return false
		}
		return true
	})
	return found, found != nil, err
}

// eachEntry calls visit with each line of file, split into its fields,
// from the topmost root that has the file, until visit returns false.
func eachEntry(roots []string, file string, visit func([]string) bool) error {
	for _, dir := range roots {
		root, err := os.OpenRoot(dir)
		if err != nil {
			return fmt.Errorf("looking up users: %w", err)
		}
		fi, err := root.Lstat(file)
		if errors.Is(err, fs.ErrNotExist) {
			root.Close()
			continue
		}
		if err == nil && layer.IsWhiteout(fi) {
			root.Close()
			return nil
		}
		f, err := root.Open(file)
		root.Close()
		if err != nil {
			return fmt.Errorf("looking up users: /%s: %w", file, err)
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Split(sc.Text(), ":")
			if len(fields) >= 3 && !visit(fields) {
				return nil
			}
		}
		return sc.Err()
	}
	return nil
}

// Groups returns the supplementary groups of the command that runs as
// user (as LookupUser takes it) with the primary group gid, as Docker
// gives them: gid itself, the groups of the image's /etc/group that
// list the user's name as a member (unless user names its group
// itself), then the groups of add (docker run --group-add: names in
// /etc/group, or numbers). "" is root, so root gets its groups from the
// image too.
func Groups(roots []string, user string, gid uint32, add []string) ([]uint32, error) {
	name, group, _ := strings.Cut(user, ":")
	if name == "" {
		name = "0"
	}
	var out []uint32
	seen := map[uint32]bool{}
	put := func(g uint32) {
		if !seen[g] {
			seen[g] = true
			out = append(out, g)
		}
	}
	put(gid)
	if group == "" {
		entry, found, err := findUser(roots, name)
		if err != nil {
			return nil, err
		}
		if found { // a uid without an entry has no name to be a member by
			err = eachEntry(roots, "etc/group", func(f []string) bool {
				if len(f) > 3 && slices.Contains(strings.Split(f[3], ","), entry[0]) {
					if gid, ok := parseID(f[2]); ok {
						put(gid)
					}
				}
				return true
			})
			if err != nil {
				return nil, err
			}
		}
	}
	for _, g := range add {
		entry, found, err := findEntry(roots, "etc/group", func(f []string) bool { return f[0] == g || f[2] == g })
		if err != nil {
			return nil, err
		}
		id, ok := uint32(0), false
		if found {
			id, ok = parseID(entry[2])
		} else {
			id, ok = parseID(g)
		}
		if !ok || id > math.MaxInt32 {
			return nil, fmt.Errorf("unable to find group %s: no matching entries in group file", g)
		}
		put(id)
	}
	return out, nil
}

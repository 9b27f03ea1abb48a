package daemon

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"

	"github.com/berth-project/berth/01-namespaces/namespace"
	"github.com/berth-project/berth/04-cow-layers/layer"
)

// berthd --userns-remap: every container in a user namespace.
//
// With the option, berthd puts each container in a user namespace (the
// one of chapter 01) whose ids come from a user's subordinate ranges in
// /etc/subuid and /etc/subgid, as dockerd does. The container's root is
// then an ordinary uid on the host: a process that escapes it owns
// nothing, and a file it creates in a bind-mounted host directory belongs
// to that uid.
//
//	/etc/subuid   berthremap:165536:65536
//	container     uid 0      1      ...  65535
//	host          uid 165536 165537 ...  231071
//
// The images stay one copy, owned by the host's root, shared by remapped
// containers and by those run with --userns host: chapter 04 idmaps the
// layers, the container's writable layer and its volumes for the
// container's mapping (layer/idmap.go). dockerd instead keeps a second
// data root per mapping (/var/lib/docker/165536.165536) with a chowned
// copy of every image. berthd does that only where the data root's
// filesystem cannot idmap: its remapped containers then run on chowned
// copies of the layers (userns_copies.go).
//
// "default" is the user berthremap, which berthd creates (useradd) with a
// range of 65536 ids after every range /etc/subuid and /etc/subgid give
// already (usermod --add-subuids), if it does not exist. dockerd's
// default user is dockremap; berth has its own, so that removing one
// engine's user does not change the other engine's containers.

// DefaultRemapUser is the user that --userns-remap default means.
const DefaultRemapUser = "berthremap"

// remap is the daemon's user namespace mapping.
type remap struct {
	User       string // the user whose subordinate ids are used
	UIDs, GIDs namespace.IDRange
}

// subIDFiles are where the subordinate ranges are (variables for tests).
var subIDFiles = struct{ uid, gid string }{"/etc/subuid", "/etc/subgid"}

// remapIDs resolves --userns-remap's value: "default", or USER[:GROUP]
// by name or number. USER's ranges come from /etc/subuid and GROUP's
// (USER's name when not given) from /etc/subgid; the first range of
// each is used.
func remapIDs(spec string) (*remap, error) {
	if spec == "default" {
		if err := ensureDefaultRemapUser(); err != nil {
			return nil, err
		}
		spec = DefaultRemapUser
	}
	name, group, _ := strings.Cut(spec, ":")
	u, err := lookupUser(name)
	if err != nil {
		return nil, fmt.Errorf("--userns-remap %s: %w", spec, err)
	}
	if u.Uid == "0" {
		return nil, fmt.Errorf("--userns-remap %s: root cannot be remapped to itself", spec)
	}
	groupName, gid := u.Username, ""
	if group != "" {
		g, err := lookupGroup(group)
		if err != nil {
			return nil, fmt.Errorf("--userns-remap %s: %w", spec, err)
		}
		groupName, gid = g.Name, g.Gid
	} else if g, err := user.LookupGroup(groupName); err == nil {
		gid = g.Gid
	}
	r := &remap{User: u.Username}
	if r.UIDs, err = subIDRange(subIDFiles.uid, u.Username, u.Uid); err != nil {
		return nil, fmt.Errorf("--userns-remap %s: %w", spec, err)
	}
	if r.GIDs, err = subIDRange(subIDFiles.gid, groupName, gid); err != nil {
		return nil, fmt.Errorf("--userns-remap %s: %w", spec, err)
	}
	return r, nil
}

// lookupUser finds a user by name, or by number.
func lookupUser(name string) (*user.User, error) {
	if _, err := strconv.Atoi(name); err == nil {
		return user.LookupId(name)
	}
	return user.Lookup(name)
}

// lookupGroup finds a group by name, or by number.
func lookupGroup(name string) (*user.Group, error) {
	if _, err := strconv.Atoi(name); err == nil {
		return user.LookupGroupId(name)
	}
	return user.LookupGroup(name)
}

// subIDRange reads the first range of file (/etc/subuid or /etc/subgid)
// given to name or to its number id: lines "NAME:FIRST:COUNT".
func subIDRange(file, name, id string) (namespace.IDRange, error) {
	ranges, err := readSubIDs(file)
	if err != nil {
		return namespace.IDRange{}, err
	}
	for _, r := range ranges {
		if r.owner == name || (id != "" && r.owner == id) {
			return r.IDRange, nil
		}
	}
	return namespace.IDRange{}, fmt.Errorf("%s gives no subordinate ids to %s", file, name)
}

// subIDs is one line of /etc/subuid or /etc/subgid.
type subIDs struct {
	owner string
	namespace.IDRange
}

// readSubIDs reads the ranges of file; a missing file has none.
func readSubIDs(file string) ([]subIDs, error) {
	f, err := os.Open(file)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var ranges []subIDs
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.Split(line, ":")
		if len(parts) != 3 {
			return nil, fmt.Errorf("%s:%d: not NAME:FIRST:COUNT", file, n)
		}
		first, err1 := strconv.Atoi(parts[1])
		count, err2 := strconv.Atoi(parts[2])
		if err1 != nil || err2 != nil || first < 0 || count <= 0 {
			return nil, fmt.Errorf("%s:%d: not NAME:FIRST:COUNT", file, n)
		}
		ranges = append(ranges, subIDs{owner: parts[0], IDRange: namespace.IDRange{Base: first, Size: count}})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return ranges, nil
}

// freeRange is the first range of size ids, from 100000 up, after every
// range of the files: where a new user's subordinate ids go.
func freeRange(size int, files ...string) (namespace.IDRange, error) {
	next := namespace.DefaultIDBase
	for _, file := range files {
		ranges, err := readSubIDs(file)
		if err != nil {
			return namespace.IDRange{}, err
		}
		for _, r := range ranges {
			next = max(next, r.Base+r.Size)
		}
	}
	return namespace.IDRange{Base: next, Size: size}, nil
}

// ensureDefaultRemapUser creates the user berthremap, a system user with
// no login shell, and gives it 65536 subordinate uids and gids, unless
// it has them. shadow's useradd and usermod edit /etc/passwd, /etc/group
// and the subordinate id files under their locks.
func ensureDefaultRemapUser() error {
	if _, err := user.Lookup(DefaultRemapUser); err != nil {
		out, err := exec.Command("useradd", "--system", "--user-group", "--shell", "/bin/false", "--no-create-home", DefaultRemapUser).CombinedOutput()
		if err != nil {
			return fmt.Errorf("--userns-remap default: creating the user %s: %w: %s", DefaultRemapUser, err, strings.TrimSpace(string(out)))
		}
	}
	// One range, free in both files, for the uids and the gids alike.
	r, err := freeRange(namespace.IDCount, subIDFiles.uid, subIDFiles.gid)
	if err != nil {
		return fmt.Errorf("--userns-remap default: %w", err)
	}
	for _, f := range []struct{ file, flag string }{{subIDFiles.uid, "--add-subuids"}, {subIDFiles.gid, "--add-subgids"}} {
		if _, err := subIDRange(f.file, DefaultRemapUser, ""); err == nil {
			continue
		}
		ids := fmt.Sprintf("%d-%d", r.Base, r.Base+r.Size-1)
		out, err := exec.Command("usermod", f.flag, ids, DefaultRemapUser).CombinedOutput()
		if err != nil {
			return fmt.Errorf("--userns-remap default: usermod %s %s %s: %w: %s", f.flag, ids, DefaultRemapUser, err, strings.TrimSpace(string(out)))
		}
	}
	return nil
}

// checkIdmap tells whether the data root's filesystem can idmap mounts
// for the mapping (layer.ErrIdmapUnsupported if not): berthd shares the
// image store between remapped containers and others through them, and
// falls back to chowned copies without them (see above).
func (r *remap) checkIdmap(dataRoot string) error {
	cfg := namespace.Config{UserNS: true, UIDs: r.UIDs, GIDs: r.GIDs}
	userns, err := cfg.UserNamespace()
	if err != nil {
		return fmt.Errorf("--userns-remap: %w", err)
	}
	defer userns.Close()
	_, files, err := layer.Idmap(userns, []string{dataRoot})
	if err != nil {
		return fmt.Errorf("--userns-remap: idmapping the data root: %w", err)
	}
	layer.CloseFiles(files)
	return nil
}

// userNS puts a container in the daemon's user namespace mapping, unless
// it asked for the host's (--userns host) or the daemon maps nothing.
func (d *Daemon) userNS(cfg *namespace.Config, mode string) {
	if d.remap == nil || mode == "host" {
		return
	}
	cfg.UserNS, cfg.UIDs, cfg.GIDs = true, d.remap.UIDs, d.remap.GIDs
}

package rootless

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Range is a user's range of subordinate IDs, one line of /etc/subuid or
// /etc/subgid ("alice:100000:65536"): the host IDs that the setuid
// helpers newuidmap and newgidmap let the user map into a user
// namespace, besides the user's own ID.
type Range struct {
	Start, Count int
}

// SubIDs returns the first range of file (/etc/subuid or /etc/subgid)
// that belongs to the user, named by name or by numeric id, as shadow's
// helpers accept either.
func SubIDs(file, name string, id int) (Range, error) {
	f, err := os.Open(file)
	if err != nil {
		return Range{}, fmt.Errorf("subordinate IDs of %s: %w", name, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Split(line, ":")
		if len(fields) != 3 || (fields[0] != name && fields[0] != strconv.Itoa(id)) {
			continue
		}
		start, err1 := strconv.Atoi(fields[1])
		count, err2 := strconv.Atoi(fields[2])
		if err1 != nil || err2 != nil || start < 0 || count <= 0 {
			return Range{}, fmt.Errorf("%s:%d: %q is not NAME:START:COUNT", file, n, line)
		}
		return Range{Start: start, Count: count}, nil
	}
	if err := sc.Err(); err != nil {
		return Range{}, fmt.Errorf("%s: %w", file, err)
	}
	return Range{}, fmt.Errorf("%s gives %s no subordinate IDs: add a line such as %s:100000:65536 (usermod --add-subuids/--add-subgids)", file, name, name)
}

// mapArgs are the arguments of newuidmap or newgidmap for the process
// pid: the user's own ID becomes 0 (berthd is root inside), and the
// subordinate range follows from 1, for the users of the images.
//
//	inside      host
//	0        -> id        (the user)
//	1..count -> start..   (/etc/subuid)
func mapArgs(pid, id int, r Range) []string {
	return []string{strconv.Itoa(pid), "0", strconv.Itoa(id), "1", "1", strconv.Itoa(r.Start), strconv.Itoa(r.Count)}
}

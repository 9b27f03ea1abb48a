package api

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/berth-project/berth/06-images/image"
)

// boolValue reads a boolean query parameter the way dockerd does: absent,
// "", "0", "no", "false" and "none" are false, anything else is true
// (clients send "1" or "true").
func boolValue(q url.Values, key string) bool {
	switch strings.ToLower(strings.TrimSpace(q.Get(key))) {
	case "", "0", "no", "false", "none":
		return false
	}
	return true
}

// boolDefault is boolValue with a default for an absent parameter (rm and
// pause are true unless the client says otherwise).
func boolDefault(q url.Values, key string, def bool) bool {
	if _, ok := q[key]; !ok || q.Get(key) == "" {
		return def
	}
	return boolValue(q, key)
}

// intValue reads an optional integer parameter; nil when absent.
func intValue(q url.Values, key string) (*int, error) {
	s := q.Get(key)
	if s == "" {
		return nil, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return nil, invalid(fmt.Sprintf("invalid value for %q: %q is not an integer", key, s))
	}
	return &n, nil
}

// sizeValue reads a terminal dimension (resize's h and w), which must be
// given.
func sizeValue(q url.Values, key string) (uint, error) {
	s := q.Get(key)
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil {
		return 0, invalid(fmt.Sprintf("invalid value for %q: %q is not a terminal dimension", key, s))
	}
	return uint(n), nil
}

// parseTimestamp reads since/until. The CLI turns what the user typed
// (10m, 2024-01-02T15:04:05Z, ...) into seconds since the epoch with an
// optional fraction of up to nine digits: "1700000000.123456789". "" and
// "0" mean no bound.
func parseTimestamp(key, s string) (time.Time, error) {
	if s == "" || s == "0" {
		return time.Time{}, nil
	}
	bad := invalid(fmt.Sprintf("invalid value for %q: %q is not a unix timestamp (seconds[.nanoseconds])", key, s))
	secs, frac, hasFrac := strings.Cut(s, ".")
	sec, err := strconv.ParseInt(secs, 10, 64)
	if err != nil || sec < 0 {
		return time.Time{}, bad
	}
	var nsec int64
	if hasFrac {
		if frac == "" || len(frac) > 9 {
			return time.Time{}, bad
		}
		nsec, err = strconv.ParseInt(frac+strings.Repeat("0", 9-len(frac)), 10, 64)
		if err != nil || nsec < 0 {
			return time.Time{}, bad
		}
	}
	return time.Unix(sec, nsec), nil
}

// parseTail reads logs' tail: "all" (or absent) is -1, else a count.
func parseTail(s string) (int, error) {
	if s == "" || s == "all" {
		return -1, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, invalid(fmt.Sprintf("invalid value for \"tail\": %q is neither \"all\" nor a number of lines", s))
	}
	return n, nil
}

// repoTag normalizes an image reference given as repo (possibly with a
// tag, as `docker import` sends it) and tag to its familiar name and a
// tag: ("docker.io/library/foo", "") -> ("foo", "latest"). An empty repo
// stays empty: the image gets no name.
//
// The grammar is chapter 06's (image.ParseReference), not the
// distribution/reference module's: that one compiles a dozen regular
// expressions when the program starts, which every container's shim and
// init, this same binary re-executed, would pay for (about a millisecond
// each).
func repoTag(repo, tag string) (string, string, error) {
	if repo == "" {
		if tag != "" {
			return "", "", invalid("a tag was given without a repository")
		}
		return "", "", nil
	}
	// Does repo carry a tag? After its last colon, unless that colon
	// is a registry's port ("localhost:5000/app").
	i := strings.LastIndex(repo, ":")
	hasTag := i >= 0 && !strings.Contains(repo[i+1:], "/")
	if hasTag && tag != "" && tag != repo[i+1:] {
		return "", "", invalid(fmt.Sprintf("invalid reference %q: it has a tag and tag=%q was given too", repo, tag))
	}
	full := repo
	if !hasTag && tag != "" {
		if _, err := image.ParseReference("x:" + tag); err != nil {
			return "", "", invalid(fmt.Sprintf("invalid tag %q: %v", tag, err))
		}
		full = repo + ":" + tag
	}
	ref, err := image.ParseReference(full)
	if err != nil {
		return "", "", invalid("invalid reference format: " + err.Error())
	}
	return ref.Name, ref.Tag, nil
}

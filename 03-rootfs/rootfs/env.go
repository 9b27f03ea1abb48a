package rootfs

import (
	"fmt"
	"strings"
)

// ParseEnv turns the values of -e flags into KEY=VALUE entries, as
// `docker run -e` does:
//
//	-e KEY=VALUE   sets KEY to VALUE (VALUE may be empty or hold "=")
//	-e KEY         copies KEY from lookup (the host's environment: pass
//	               os.LookupEnv); if the host does not have KEY, the
//	               container does not get it either
//
// An empty key ("=VALUE", "") is an error. Later values for a key replace
// earlier ones (see MergeEnv).
func ParseEnv(values []string, lookup func(string) (string, bool)) ([]string, error) {
	env := make([]string, 0, len(values))
	for _, v := range values {
		key, val, hasValue := strings.Cut(v, "=")
		if err := checkEnvEntry(v, key, val); err != nil {
			return nil, err
		}
		if hasValue {
			env = append(env, v)
			continue
		}
		if lookup == nil {
			continue
		}
		if hostVal, ok := lookup(key); ok {
			env = append(env, key+"="+hostVal)
		}
	}
	return MergeEnv(env)
}

// MergeEnv merges environments in order: the image's defaults, then the
// user's -e values, say. A later entry for a key replaces the earlier one
// in its place, so the result has each key once, in the order keys first
// appeared. Every entry must be KEY=VALUE with a non-empty KEY.
func MergeEnv(lists ...[]string) ([]string, error) {
	var merged []string
	index := map[string]int{} // key -> position in merged
	for _, list := range lists {
		for _, e := range list {
			key, val, ok := strings.Cut(e, "=")
			if !ok {
				return nil, fmt.Errorf("environment entry %q: want KEY=VALUE", e)
			}
			if err := checkEnvEntry(e, key, val); err != nil {
				return nil, err
			}
			if i, seen := index[key]; seen {
				merged[i] = e
				continue
			}
			index[key] = len(merged)
			merged = append(merged, e)
		}
	}
	return merged, nil
}

// checkEnvEntry rejects what execve(2) cannot pass on or a shell cannot
// name: an empty key, and NUL bytes, which would cut the entry short.
func checkEnvEntry(entry, key, val string) error {
	if key == "" {
		return fmt.Errorf("environment variable %q: empty name", entry)
	}
	if strings.ContainsRune(key, 0) || strings.ContainsRune(val, 0) {
		return fmt.Errorf("environment variable %q: contains a NUL byte", entry)
	}
	return nil
}

// EnvList collects repeated -e flags, unparsed, and implements flag.Value.
// Set already rejects an empty name; pass the list to ParseEnv once the
// flags are parsed.
type EnvList []string

// String lists the values as a comma-separated string.
func (l *EnvList) String() string {
	if l == nil {
		return ""
	}
	return strings.Join(*l, ",")
}

// Set checks and appends one -e value.
func (l *EnvList) Set(s string) error {
	key, val, _ := strings.Cut(s, "=")
	if err := checkEnvEntry(s, key, val); err != nil {
		return err
	}
	*l = append(*l, s)
	return nil
}

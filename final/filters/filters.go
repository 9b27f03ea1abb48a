package filters

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/containerd/errdefs"
)

// Args is a parsed filters argument: each key with its values, sorted.
type Args map[string][]string

// invalid is a 400 with the message the docker CLI prints.
func invalid(format string, args ...any) error {
	return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf(format, args...))
}

// Parse decodes the "filters" query parameter, in the set form of API
// 1.22 and later ({"name":{"web":true}}) or the older list form
// ({"name":["web"]}). An empty string is no filter. A value set to false
// in the set form is not asked for.
func Parse(s string) (Args, error) {
	out := Args{}
	if s == "" {
		return out, nil
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &raw); err != nil {
		return nil, invalid("invalid filters %q: %v", s, err)
	}
	for key, v := range raw {
		var set map[string]bool
		var list []string
		switch {
		case json.Unmarshal(v, &set) == nil:
			for value, on := range set {
				if on {
					list = append(list, value)
				}
			}
		case json.Unmarshal(v, &list) == nil:
		default:
			return nil, invalid("invalid filters: the values of %q must be {\"value\":true} or [\"value\"]", key)
		}
		sort.Strings(list)
		out[key] = list
	}
	return out, nil
}

// Add adds value to key.
func (a Args) Add(key, value string) {
	a[key] = append(a[key], value)
}

// Has reports whether key was given at least one value.
func (a Args) Has(key string) bool { return len(a[key]) > 0 }

// Check refuses a key that is not one of accepted: what the list, named
// by what, cannot filter by.
func (a Args) Check(what string, accepted ...string) error {
	for key := range a {
		if !slices.Contains(accepted, key) {
			return invalid("invalid filter '%s': %s can be filtered by %s", key, what, strings.Join(accepted, ", "))
		}
	}
	return nil
}

// Any reports whether match accepts one of key's values (the values of
// one key are alternatives), or key has none.
func (a Args) Any(key string, match func(value string) bool) bool {
	values := a[key]
	if len(values) == 0 {
		return true
	}
	return slices.ContainsFunc(values, match)
}

// Labels reports whether labels satisfy every "label" value (KEY, or
// KEY=VALUE) and none of the "label!" values (the prunes' negation: a
// KEY=VALUE there excludes only that value). Several label values
// combine with AND: see the package documentation for why this matters.
func (a Args) Labels(labels map[string]string) bool {
	for _, v := range a["label"] {
		if !hasLabel(labels, v) {
			return false
		}
	}
	for _, v := range a["label!"] {
		if hasLabel(labels, v) {
			return false
		}
	}
	return true
}

// hasLabel reports whether labels carry the label named by filter: KEY
// (with any value) or KEY=VALUE.
func hasLabel(labels map[string]string, filter string) bool {
	key, want, withValue := strings.Cut(filter, "=")
	got, ok := labels[key]
	return ok && (!withValue || got == want)
}

// Bool reads key as a boolean ("true"/"1" or "false"/"0"), as the
// dangling filter is written. set is false when key has no value; two
// different values are an error.
func (a Args) Bool(key string) (value, set bool, err error) {
	for _, v := range a[key] {
		var b bool
		switch strings.ToLower(v) {
		case "true", "1":
			b = true
		case "false", "0":
		default:
			return false, false, invalid("invalid filter '%s=%s': use true or false", key, v)
		}
		if set && b != value {
			return false, false, invalid("invalid filter '%s': both true and false", key)
		}
		value, set = b, true
	}
	return value, set, nil
}

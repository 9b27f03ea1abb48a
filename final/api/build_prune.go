package api

import (
	"net/http"
	"slices"
	"time"

	"github.com/berth-project/berth/final/filters"
)

// POST /build/prune (docker builder prune; docker system prune calls it
// too): the build cache's entries go, with the images only they kept.
//
// berth's build cache is the classic builder's: a record of which image
// each step made (package final/build's Cache), and those images. An
// image of a step is usually a layer of a tagged image, which the prune
// cannot free; what it frees is the entries (the next build does every
// step again) and the images nothing else holds: the steps of a build
// that failed half-way, or of an image since rebuilt or removed.
//
//	all=1               every entry; without it, only the entries of
//	                    images nothing else holds (dockerd's "dangling"
//	                    cache) and those whose image is gone
//	filters until,      entries no build has used since (a duration such
//	        unused-for  as 24h, a date or a Unix time), as dockerd
//	filters id          entries by ID (as CachesDeleted names them)
//	filters label,      an entry has no labels: label=... selects none,
//	        label!      label!=... all (docker system prune --filter
//	                    label=... passes its filters here too)
//
// keep-storage (reserved-space, max-used-space, min-free-space in newer
// APIs) would keep the most recently used entries up to a size: berth
// does not apply it, and refuses it by name rather than prune more than
// asked. The answer is dockerd's report: the entries' IDs and the bytes
// of the images removed.

// BuildPruneOptions are the query of POST /build/prune.
type BuildPruneOptions struct {
	All     bool
	Filters filters.Args // until, unused-for, id, label, label!
}

// BuildPruneFilter checks a build prune's filters and returns the time
// its until (or unused-for) sets, if any: entries last used before it
// go.
func BuildPruneFilter(args filters.Args) (until time.Time, hasUntil bool, err error) {
	if err := args.Check("build cache", "until", "unused-for", "id", "label", "label!"); err != nil {
		return time.Time{}, false, err
	}
	if len(args["until"]) > 0 && len(args["unused-for"]) > 0 {
		return time.Time{}, false, invalid("conflicting filters: until and unused-for are the same filter: give one")
	}
	if len(args["unused-for"]) > 0 {
		args = filters.Args{"until": args["unused-for"]}
	}
	return args.Until(time.Now())
}

func (s *Server) buildPrune(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	// keep-storage is reserved-space's name before API 1.48: the
	// docker CLI's flag is --keep-storage whichever it sends.
	for _, name := range []string{"keep-storage", "reserved-space", "max-used-space", "min-free-space"} {
		if v := q.Get(name); v != "" && v != "0" {
			if name == "reserved-space" {
				name = "keep-storage (reserved-space)"
			}
			return invalid(name + " is not supported: berth's build cache prune removes every entry the filters select, and cannot keep some by size")
		}
	}
	args, err := filters.Parse(q.Get("filters"))
	if err != nil {
		return err
	}
	report, err := s.backend.BuildCachePrune(r.Context(), BuildPruneOptions{All: boolValue(q, "all"), Filters: args})
	if err != nil {
		return err
	}
	slices.Sort(report.CachesDeleted)
	writeJSON(w, http.StatusOK, report)
	return nil
}

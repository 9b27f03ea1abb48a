package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	moby "github.com/moby/moby/api/types/events"

	"github.com/berth-project/berth/final/events"
	"github.com/berth-project/berth/final/filters"
)

// getEvents streams the engine's events (docker events, Compose): those
// of the ring between since and until, then live ones until the until,
// or until the client hangs up. One JSON object per event, flushed as it
// is written, as dockerd's stream: clients decode it with a streaming
// JSON decoder, not line by line.
//
// The headers go out (and are flushed) before any event: the docker CLI
// waits for them before it shows anything, and a `docker events` with
// nothing to show yet must not look like a hung daemon.
func (s *Server) getEvents(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	now := time.Now()
	since, err := parseEventTime("since", q.Get("since"), now)
	if err != nil {
		return err
	}
	until, err := parseEventTime("until", q.Get("until"), now)
	if err != nil {
		return err
	}
	if !until.IsZero() && until.Before(since) {
		return invalid(fmt.Sprintf("`since` time (%s) cannot be after `until` time (%s)", q.Get("since"), q.Get("until")))
	}
	args, err := filters.Parse(q.Get("filters"))
	if err != nil {
		return err
	}
	f, err := events.NewFilter(args)
	if err != nil {
		return err
	}
	sub, err := s.backend.Events(r.Context(), since, until, f)
	if err != nil {
		return err
	}
	defer sub.Close()

	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_ = rc.Flush()
	enc := json.NewEncoder(w)
	for _, m := range sub.Past {
		if err := enc.Encode(m); err != nil {
			return nil // the client has gone
		}
	}
	_ = rc.Flush()
	for {
		select {
		case m, ok := <-sub.C:
			if !ok {
				if err := sub.Err(); errors.Is(err, events.ErrTooSlow) {
					// The stream has begun: no status can tell the
					// client any more. The connection is cut, not
					// ended: the client sees a broken stream (docker
					// events: "unexpected EOF"), not the clean end of
					// an --until.
					s.log.Warn("events: cutting a client that fell behind", "err", err)
					panic(http.ErrAbortHandler)
				}
				return nil // until reached, or the daemon is closing
			}
			if enc.Encode(m) != nil || rc.Flush() != nil {
				return nil
			}
		case <-r.Context().Done():
			return nil
		}
	}
}

// pruneReporter is a backend that reports events: the server tells it
// of the prunes it carries out itself (networks), for the "prune" event
// dockerd reports after each prune.
type pruneReporter interface {
	Pruned(typ moby.Type, reclaimed uint64)
}

// parseEventTime reads since and until. The docker CLI converts what its
// user typed ("10m", "2024-05-01T10:00:00", a Unix time) to Unix seconds
// with nanoseconds ("1714557600.000000000") before sending; dockerd takes
// only that. berth also takes RFC 3339 and a Go duration back from now,
// for clients that send what their user typed (curl, scripts).
func parseEventTime(key, s string, now time.Time) (time.Time, error) {
	switch s {
	case "":
		return time.Time{}, nil
	case "0":
		// The epoch, not "unset": --since 0 asks for every event kept.
		return time.Unix(0, 0), nil
	}
	if t, err := parseTimestamp(key, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return now.Add(-d), nil
	}
	return time.Time{}, invalid(fmt.Sprintf("invalid value for %q: %q is not a Unix time (seconds[.nanoseconds]), an RFC 3339 time or a duration", key, s))
}

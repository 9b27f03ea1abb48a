package api

import (
	"net/http"
	"time"

	"github.com/moby/moby/api/types/container"
)

// statsInterval is how often a stats stream samples, as dockerd's
// collector does: CPU % is the CPU time used between two samples divided
// by the host's CPU time in the same interval.
const statsInterval = time.Second

// containerStats answers GET /containers/{id}/stats. The backend gives
// one sample at a time; the CPU of the previous sample goes into
// precpu_stats, because a client can only compute a CPU percentage from
// two samples:
//
//	stream=true              sample, 1 s, sample, 1 s ...  (each sent)
//	stream=false             sample, 1 s, sample           (the 2nd sent)
//	stream=false&one-shot=1  sample                        (no precpu)
//
// A container that does not run gives an empty sample (name and ID
// only), at once when not streaming, as in dockerd.
func (s *Server) containerStats(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	stream := boolDefault(q, "stream", true)
	oneShot := boolValue(q, "one-shot")
	if stream && oneShot {
		return invalid("cannot have stream=true and one-shot=true")
	}
	ctx := r.Context()
	id := r.PathValue("id")
	tick := time.NewTicker(statsInterval)
	defer tick.Stop()
	var prev container.StatsResponse
	started := false
	for first := true; ; first = false {
		cur, err := s.backend.ContainerStats(ctx, id)
		if err != nil {
			if first {
				return err
			}
			return nil // removed while streaming: the stream ends
		}
		cur.PreCPUStats, cur.PreRead = prev.CPUStats, prev.Read
		if stream || oneShot || !first || cur.Read.IsZero() {
			if !started {
				started = true
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusOK)
			}
			if err := jsonEncode(w, cur); err != nil {
				return nil // the client left
			}
			if !stream {
				return nil
			}
			_ = http.NewResponseController(w).Flush()
		}
		prev = cur
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

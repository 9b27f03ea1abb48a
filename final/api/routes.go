package api

import (
	"net/http"
	"strings"
)

// routes declares every endpoint once, unversioned (the version prefix is
// gone by the time a request gets here). Go's ServeMux picks the most
// specific pattern, so "GET /images/json" wins over "GET /images/{name...}".
//
// Image names contain slashes ("example.com/team/app:1"), which a {name}
// wildcard (one path segment) cannot hold, so image routes take the rest
// of the path and split off the action themselves.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	handle := func(pattern string, h func(http.ResponseWriter, *http.Request) error) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			if err := h(w, r); err != nil {
				s.writeError(w, r, err)
			}
		})
	}

	// System
	handle("GET /_ping", s.ping) // and HEAD, as every GET pattern
	handle("GET /version", s.version)
	handle("GET /info", s.info)
	handle("GET /events", s.getEvents)

	// Containers
	handle("POST /containers/create", s.containerCreate)
	handle("POST /containers/prune", s.containerPrune)
	handle("POST /images/prune", s.imagePrune)
	handle("GET /system/df", s.systemDiskUsage)
	handle("GET /containers/json", s.containerList)
	handle("GET /containers/{id}/json", s.containerInspect)
	handle("POST /containers/{id}/start", s.containerStart)
	handle("POST /containers/{id}/stop", s.containerStop)
	handle("POST /containers/{id}/restart", s.containerRestart)
	handle("POST /containers/{id}/kill", s.containerKill)
	handle("POST /containers/{id}/pause", s.containerPause)
	handle("POST /containers/{id}/unpause", s.containerUnpause)
	handle("POST /containers/{id}/rename", s.containerRename)
	handle("POST /containers/{id}/update", s.containerUpdate)
	handle("DELETE /containers/{id...}", s.containerRemove) // a link is /parent/alias
	handle("POST /containers/{id}/wait", s.containerWait)
	handle("GET /containers/{id}/top", s.containerTop)
	handle("GET /containers/{id}/stats", s.containerStats)
	handle("GET /containers/{id}/logs", s.containerLogs)
	handle("POST /containers/{id}/attach", s.containerAttach)
	handle("POST /containers/{id}/resize", s.containerResize)
	handle("GET /containers/{id}/export", s.containerExport)
	handle("GET /containers/{id}/changes", s.containerChanges)
	handle("GET /containers/{id}/archive", s.containerArchive) // and HEAD: the stat
	handle("PUT /containers/{id}/archive", s.containerExtract)

	// Exec
	handle("POST /containers/{id}/exec", s.execCreate)
	handle("POST /exec/{id}/start", s.execStart)
	handle("POST /exec/{id}/resize", s.execResize)
	handle("GET /exec/{id}/json", s.execInspect)

	// Images
	handle("GET /images/json", s.imageList)
	handle("GET /images/get", s.imageSave)
	handle("POST /images/load", s.imageLoad)
	handle("POST /images/create", s.imageCreate)
	handle("GET /images/{name...}", s.imageGet)
	handle("POST /images/{name...}", s.imagePost)
	handle("DELETE /images/{name...}", s.imageRemove)
	handle("POST /commit", s.commit)
	handle("POST /build", s.build)
	handle("POST /build/prune", s.buildPrune)

	// Registries (registry.go); pull is POST /images/create?fromImage=,
	// push POST /images/NAME/push.
	handle("POST /auth", s.login)
	handle("GET /distribution/{name...}", s.distributionInspect)

	// Volumes
	handle("POST /volumes/create", s.volumeCreate)
	handle("POST /volumes/prune", s.volumePrune)
	handle("GET /volumes", s.volumeList)
	handle("GET /volumes/{name}", s.volumeInspect)
	handle("DELETE /volumes/{name}", s.volumeRemove)

	// Networks
	handle("GET /networks", s.networkList)
	handle("GET /networks/{id}", s.networkInspect)
	handle("POST /networks/create", s.networkCreate)
	handle("POST /networks/prune", s.networkPrune)
	handle("DELETE /networks/{id}", s.networkRemove)
	handle("POST /networks/{id}/connect", s.networkConnect)
	handle("POST /networks/{id}/disconnect", s.networkDisconnect)

	// Everything else, whatever the method, is a JSON 404: `docker
	// inspect` moves on to the next kind of object on a 404, and only
	// reads the message of a JSON error.
	handle("/", func(w http.ResponseWriter, r *http.Request) error {
		return notFound("page not found")
	})
	return mux
}

// splitAction splits "busybox:latest/json" into the image name and the
// action after its last slash, if the action is one of actions.
func splitAction(rest string, actions ...string) (name, action string) {
	i := strings.LastIndex(rest, "/")
	if i > 0 {
		for _, a := range actions {
			if rest[i+1:] == a {
				return rest[:i], a
			}
		}
	}
	return rest, ""
}

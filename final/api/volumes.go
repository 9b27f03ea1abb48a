package api

import (
	"net/http"

	"github.com/moby/moby/api/types/volume"

	"github.com/berth-project/berth/final/filters"
)

// The volume routes: POST /volumes/create, GET /volumes, GET and DELETE
// /volumes/{name}, POST /volumes/prune. Filters are the backend's to
// read (Docker's volume filters: name, driver, label, dangling; prune's
// label, label! and all).

func (s *Server) volumeCreate(w http.ResponseWriter, r *http.Request) error {
	var req volume.CreateRequest
	if _, err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	v, err := s.backend.VolumeCreate(r.Context(), req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, v)
	return nil
}

func (s *Server) volumeList(w http.ResponseWriter, r *http.Request) error {
	args, err := filters.Parse(r.URL.Query().Get("filters"))
	if err != nil {
		return err
	}
	list, err := s.backend.VolumeList(r.Context(), args)
	if err != nil {
		return err
	}
	if list.Volumes == nil {
		list.Volumes = []volume.Volume{}
	}
	writeJSON(w, http.StatusOK, list)
	return nil
}

func (s *Server) volumeInspect(w http.ResponseWriter, r *http.Request) error {
	v, err := s.backend.VolumeInspect(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) volumeRemove(w http.ResponseWriter, r *http.Request) error {
	if err := s.backend.VolumeRemove(r.Context(), r.PathValue("name"), boolValue(r.URL.Query(), "force")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) volumePrune(w http.ResponseWriter, r *http.Request) error {
	args, err := filters.Parse(r.URL.Query().Get("filters"))
	if err != nil {
		return err
	}
	// Before API 1.42 a prune removed every unused volume; since, only
	// the anonymous ones unless all=true. The docker CLI cannot send
	// --all to an older server, so its prune means all of them.
	if compareVersions(apiVersion(r), "1.42") < 0 && !args.Has("all") {
		args.Add("all", "true")
	}
	report, err := s.backend.VolumesPrune(r.Context(), args)
	if err != nil {
		return err
	}
	if report.VolumesDeleted == nil {
		report.VolumesDeleted = []string{}
	}
	writeJSON(w, http.StatusOK, report)
	return nil
}

package api

import "net/http"

// POST /containers/{id}/pause and /unpause (docker pause, docker
// unpause): no query, no body; 204 when done, 409 for a container that
// does not run, is paused already (pause) or is not paused (unpause).

func (s *Server) containerPause(w http.ResponseWriter, r *http.Request) error {
	if err := s.backend.ContainerPause(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) containerUnpause(w http.ResponseWriter, r *http.Request) error {
	if err := s.backend.ContainerUnpause(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

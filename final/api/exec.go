package api

import (
	"context"
	"fmt"
	"net/http"

	"github.com/moby/moby/api/types/common"
	"github.com/moby/moby/api/types/container"
)

func (s *Server) execCreate(w http.ResponseWriter, r *http.Request) error {
	var req container.ExecCreateRequest
	ok, err := s.decodeJSON(w, r, &req)
	if err != nil {
		return err
	}
	if !ok || len(req.Cmd) == 0 {
		return invalid("no exec command specified")
	}
	id, err := s.backend.ExecCreate(r.Context(), r.PathValue("id"), req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, common.IDResponse{ID: id})
	return nil
}

// execStart runs an exec process. Detached, it is a plain request and
// answer. Attached, the connection is taken over like attach's, and
// answered before the process starts: the process may wait for input
// that the client sends only after the answer. The client then reads
// until the connection closes, and asks for the exit code with
// GET /exec/{id}/json, so the backend records it before returning.
func (s *Server) execStart(w http.ResponseWriter, r *http.Request) error {
	var req container.ExecStartRequest
	if _, err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	id := r.PathValue("id")
	if _, err := s.backend.ExecInspect(r.Context(), id); err != nil {
		return err
	}
	opts := ExecStartOptions{Detach: req.Detach, Tty: req.Tty, ConsoleSize: req.ConsoleSize}
	if req.Detach {
		// The process outlives this request: give the backend a
		// context that does not end with it.
		if err := s.backend.ExecStart(context.WithoutCancel(r.Context()), id, opts); err != nil {
			return err
		}
		w.WriteHeader(http.StatusOK)
		return nil
	}
	h, ctx, err := s.hijack(w, r, streamType(r, req.Tty))
	if err != nil {
		return err
	}
	defer h.close()
	if err := h.answer(); err != nil {
		return nil // the client is gone
	}
	opts.Stdin = h.stdin()
	opts.Stdout, opts.Stderr = h.streams(req.Tty, true, true)
	if err := s.protect(r, func() error { return s.backend.ExecStart(ctx, id, opts) }); err != nil && ctx.Err() == nil {
		h.fail(fmt.Errorf("exec %s: %w", id, err), req.Tty)
	}
	return nil
}

func (s *Server) execResize(w http.ResponseWriter, r *http.Request) error {
	return resize(w, r, s.backend.ExecResize)
}

func (s *Server) execInspect(w http.ResponseWriter, r *http.Request) error {
	info, err := s.backend.ExecInspect(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, info)
	return nil
}

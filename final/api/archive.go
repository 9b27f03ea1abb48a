package api

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"

	"github.com/moby/moby/api/types/container"
)

// docker cp's endpoints, /containers/{id}/archive?path=P:
//
//	HEAD  the stat of P, in the X-Docker-Container-Path-Stat header
//	GET   the same header, and a tar of P as the body
//	PUT   a tar in the body, extracted into the directory P
//
// The header is base64 of JSON {name,size,mode,mtime,linkTarget}, mode
// in Go's os.FileMode bits: the client decides from it whether P is a
// directory, and with -L or a symlinked destination, asks again for the
// link's target.

// PathStatHeader is the header that carries a path's stat.
const PathStatHeader = "X-Docker-Container-Path-Stat"

// CopyToOptions are PUT /containers/{id}/archive's query.
type CopyToOptions struct {
	// NoOverwriteDirNonDir refuses to replace a directory with a
	// non-directory and the reverse (docker cp always sets it).
	NoOverwriteDirNonDir bool
	// CopyUIDGID (docker cp -a) gives the files the container's user
	// and group, when it has a user; otherwise they keep the archive's.
	CopyUIDGID bool
}

func archivePath(r *http.Request) (string, error) {
	p := r.URL.Query().Get("path")
	if p == "" {
		return "", invalid("path is required: /containers/{id}/archive?path=PATH")
	}
	return p, nil
}

func setPathStat(w http.ResponseWriter, st container.PathStat) error {
	data, err := json.Marshal(st)
	if err != nil {
		return err
	}
	w.Header().Set(PathStatHeader, base64.StdEncoding.EncodeToString(data))
	return nil
}

// containerArchive answers HEAD (the stat alone) and GET (the stat and
// the tar, which the backend streams once it knows the stat).
func (s *Server) containerArchive(w http.ResponseWriter, r *http.Request) error {
	p, err := archivePath(r)
	if err != nil {
		return err
	}
	name := r.PathValue("id")
	if r.Method == http.MethodHead {
		st, err := s.backend.ContainerStatPath(r.Context(), name, p)
		if err != nil {
			return err
		}
		if err := setPathStat(w, st); err != nil {
			return err
		}
		w.WriteHeader(http.StatusOK)
		return nil
	}
	return s.streamBody(w, r, "application/x-tar", func(out io.Writer) error {
		return s.backend.ContainerArchivePath(r.Context(), name, p, func(st container.PathStat) error {
			return setPathStat(w, st)
		}, out)
	})
}

// containerExtract extracts the body, a tar, into a directory of the
// container.
func (s *Server) containerExtract(w http.ResponseWriter, r *http.Request) error {
	p, err := archivePath(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	opts := CopyToOptions{
		NoOverwriteDirNonDir: boolValue(q, "noOverwriteDirNonDir"),
		CopyUIDGID:           boolValue(q, "copyUIDGID"),
	}
	err = s.protect(r, func() error {
		return s.backend.ContainerExtractToDir(r.Context(), r.PathValue("id"), p, opts, r.Body)
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

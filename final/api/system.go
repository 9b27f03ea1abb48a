package api

import (
	"net/http"
	"runtime"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/api/types/system"
)

// ping answers the first request of every docker command. Its headers
// matter more than its body: the client reads the API version to
// negotiate, and Ostype, Builder-Version and Swarm to decide how to
// behave (`run` refuses to parse its flags without an OS type; `build`
// picks the classic builder for "1"; a swarm state of "inactive" keeps
// `inspect` from asking for services and nodes). It must never be cached.
func (s *Server) ping(w http.ResponseWriter, r *http.Request) error {
	h := w.Header()
	h.Set("Builder-Version", "1")
	h.Set("Swarm", "inactive")
	h.Set("Cache-Control", "no-cache, no-store, must-revalidate")
	h.Set("Pragma", "no-cache")
	h.Set("Content-Type", "text/plain; charset=utf-8")
	if r.Method == http.MethodHead {
		h.Set("Content-Length", "0")
		w.WriteHeader(http.StatusOK)
		return nil
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte("OK"))
	return nil
}

// version completes the backend's answer with what only the server knows:
// the API versions it speaks. `docker version` shows the Engine component
// and its details.
func (s *Server) version(w http.ResponseWriter, r *http.Request) error {
	v, err := s.backend.Version(r.Context())
	if err != nil {
		return err
	}
	v.APIVersion = s.opts.APIVersion
	v.MinAPIVersion = s.opts.MinAPIVersion
	if v.Platform.Name == "" {
		v.Platform.Name = "berth"
	}
	if v.Version == "" {
		v.Version = s.opts.Version
	}
	if v.Os == "" {
		v.Os = runtime.GOOS
	}
	if v.Arch == "" {
		v.Arch = runtime.GOARCH
	}
	if v.GoVersion == "" {
		v.GoVersion = runtime.Version()
	}
	// The backend's slice may be shared; complete a copy.
	v.Components = append([]system.ComponentVersion(nil), v.Components...)
	engine := -1
	for i, c := range v.Components {
		if c.Name == "Engine" {
			engine = i
		}
	}
	if engine < 0 {
		v.Components = append(v.Components, system.ComponentVersion{Name: "Engine", Version: v.Version})
		engine = len(v.Components) - 1
	}
	details := map[string]string{}
	for k, val := range v.Components[engine].Details {
		details[k] = val
	}
	details["ApiVersion"] = v.APIVersion
	details["MinAPIVersion"] = v.MinAPIVersion
	for k, val := range map[string]string{
		"GoVersion": v.GoVersion, "GitCommit": v.GitCommit, "Os": v.Os, "Arch": v.Arch,
		"KernelVersion": v.KernelVersion, "BuildTime": v.BuildTime, "Experimental": "false",
	} {
		if _, ok := details[k]; !ok && val != "" {
			details[k] = val
		}
	}
	v.Components[engine].Details = details
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) info(w http.ResponseWriter, r *http.Request) error {
	info, err := s.backend.Info(r.Context())
	if err != nil {
		return err
	}
	if info.OSType == "" {
		info.OSType = "linux"
	}
	// As in the ping's Swarm header: without it `docker info` prints an
	// empty swarm section with a confusing "NodeID" line.
	if info.Swarm.LocalNodeState == "" {
		info.Swarm.LocalNodeState = swarm.LocalNodeStateInactive
	}
	writeJSON(w, http.StatusOK, info)
	return nil
}

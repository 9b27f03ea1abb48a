package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"

	"github.com/berth-project/berth/final/filters"
)

// TimestampFormat prefixes each log line when the client asks for
// timestamps: RFC 3339 with always nine digits of fraction, so that the
// lines of `docker logs -t` align.
const TimestampFormat = "2006-01-02T15:04:05.000000000Z07:00"

func (s *Server) containerCreate(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		container.CreateRequest
		// MacAddress is the container's MAC before API 1.44, which
		// moved it to the endpoint settings of its network.
		MacAddress string `json:",omitempty"`
	}
	ok, err := s.decodeJSON(w, r, &body)
	if err != nil {
		return err
	}
	req := body.CreateRequest
	if !ok || req.Config == nil {
		return invalid("config cannot be empty in order to create a container")
	}
	if err := legacyMAC(&req, body.MacAddress); err != nil {
		return err
	}
	resp, err := s.backend.ContainerCreate(r.Context(), r.URL.Query().Get("name"), req)
	if err != nil {
		return err
	}
	if resp.Warnings == nil {
		resp.Warnings = []string{}
	}
	writeJSON(w, http.StatusCreated, resp)
	return nil
}

// legacyMAC moves a MAC address of the request's top level (API < 1.44)
// into the endpoint settings of the container's network, as dockerd
// does.
func legacyMAC(req *container.CreateRequest, mac string) error {
	if mac == "" {
		return nil
	}
	var hw network.HardwareAddr
	if err := hw.UnmarshalText([]byte(mac)); err != nil {
		return invalid(fmt.Sprintf("invalid MAC address %q", mac))
	}
	name := "default"
	if req.HostConfig != nil && req.HostConfig.NetworkMode != "" {
		name = string(req.HostConfig.NetworkMode)
	}
	if req.NetworkingConfig == nil {
		req.NetworkingConfig = &network.NetworkingConfig{}
	}
	if req.NetworkingConfig.EndpointsConfig == nil {
		req.NetworkingConfig.EndpointsConfig = map[string]*network.EndpointSettings{}
	}
	es := req.NetworkingConfig.EndpointsConfig[name]
	if es == nil {
		es = &network.EndpointSettings{}
		req.NetworkingConfig.EndpointsConfig[name] = es
	}
	if len(es.MacAddress) > 0 && es.MacAddress.String() != hw.String() {
		return invalid("the container's MAC address and its endpoint's differ: " + mac + ", " + es.MacAddress.String())
	}
	es.MacAddress = hw
	return nil
}

func (s *Server) containerList(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	args, err := filters.Parse(q.Get("filters"))
	if err != nil {
		return err
	}
	// before and since were query parameters before they were filters.
	for _, key := range []string{"before", "since"} {
		if v := q.Get(key); v != "" {
			args.Add(key, v)
		}
	}
	limit, err := intValue(q, "limit")
	if err != nil {
		return err
	}
	opts := ListOptions{All: boolValue(q, "all"), Size: boolValue(q, "size"), Filters: args}
	if limit != nil && *limit > 0 {
		opts.Limit = *limit
	}
	list, err := s.backend.ContainerList(r.Context(), opts)
	if err != nil {
		return err
	}
	if list == nil {
		list = []container.Summary{}
	}
	writeJSON(w, http.StatusOK, list)
	return nil
}

func (s *Server) containerInspect(w http.ResponseWriter, r *http.Request) error {
	info, err := s.backend.ContainerInspect(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, info)
	return nil
}

func (s *Server) containerStart(w http.ResponseWriter, r *http.Request) error {
	if err := s.backend.ContainerStart(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) containerStop(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	timeout, err := intValue(q, "t")
	if err != nil {
		return err
	}
	if err := s.backend.ContainerStop(r.Context(), r.PathValue("id"), timeout, q.Get("signal")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) containerRestart(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	timeout, err := intValue(q, "t")
	if err != nil {
		return err
	}
	if err := s.backend.ContainerRestart(r.Context(), r.PathValue("id"), timeout, q.Get("signal")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) containerKill(w http.ResponseWriter, r *http.Request) error {
	if err := s.backend.ContainerKill(r.Context(), r.PathValue("id"), r.URL.Query().Get("signal")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// containerRename is POST /containers/{id}/rename?name=NEW (docker
// rename): 204 when done.
func (s *Server) containerRename(w http.ResponseWriter, r *http.Request) error {
	if err := s.backend.ContainerRename(r.Context(), r.PathValue("id"), r.URL.Query().Get("name")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) containerPrune(w http.ResponseWriter, r *http.Request) error {
	args, err := filters.Parse(r.URL.Query().Get("filters"))
	if err != nil {
		return err
	}
	report, err := s.backend.ContainersPrune(r.Context(), args)
	if err != nil {
		return err
	}
	if report.ContainersDeleted == nil {
		report.ContainersDeleted = []string{}
	}
	writeJSON(w, http.StatusOK, report)
	return nil
}

func (s *Server) containerRemove(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	var err error
	if boolValue(q, "link") {
		err = s.backend.ContainerRemoveLink(r.Context(), r.PathValue("id"))
	} else {
		err = s.backend.ContainerRemove(r.Context(), r.PathValue("id"), boolValue(q, "force"), boolValue(q, "v"))
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// containerWait answers in two steps. The docker client sends the wait
// before the start and blocks until the answer's header arrives, so the
// header goes out at once, as soon as the backend has accepted the wait;
// the body follows when the container has exited (or was removed).
func (s *Server) containerWait(w http.ResponseWriter, r *http.Request) error {
	cond := container.WaitCondition(r.URL.Query().Get("condition"))
	switch cond {
	case "":
		cond = container.WaitConditionNotRunning
	case container.WaitConditionNotRunning, container.WaitConditionNextExit, container.WaitConditionRemoved:
	default:
		return invalid(fmt.Sprintf("invalid condition %q: use not-running, next-exit or removed", cond))
	}
	ctx := r.Context()
	ch, err := s.backend.ContainerWait(ctx, r.PathValue("id"), cond)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_ = http.NewResponseController(w).Flush()
	select {
	case res, ok := <-ch:
		if !ok {
			res = container.WaitResponse{StatusCode: -1, Error: &container.WaitExitError{Message: "the wait ended without a result"}}
		}
		if err := jsonEncode(w, res); err != nil {
			s.log.Debug("client left before the wait ended", "path", r.URL.Path, "err", err)
		}
	case <-ctx.Done():
	}
	return nil
}

func (s *Server) containerTop(w http.ResponseWriter, r *http.Request) error {
	top, err := s.backend.ContainerTop(r.Context(), r.PathValue("id"), r.URL.Query().Get("ps_args"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, top)
	return nil
}

// containerLogs streams the log: raw for a container with a terminal,
// in stdcopy frames otherwise, each record flushed as it comes so that
// `docker logs -f` shows lines as they are written.
func (s *Server) containerLogs(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	opts := LogsOptions{
		Stdout:     boolValue(q, "stdout"),
		Stderr:     boolValue(q, "stderr"),
		Follow:     boolValue(q, "follow"),
		Timestamps: boolValue(q, "timestamps"),
	}
	if !opts.Stdout && !opts.Stderr {
		return invalid("Bad parameters: you must choose at least one stream")
	}
	var err error
	if opts.Tail, err = parseTail(q.Get("tail")); err != nil {
		return err
	}
	if opts.Since, err = parseTimestamp("since", q.Get("since")); err != nil {
		return err
	}
	if opts.Until, err = parseTimestamp("until", q.Get("until")); err != nil {
		return err
	}
	if !opts.Since.IsZero() && !opts.Until.IsZero() && opts.Until.Before(opts.Since) {
		return invalid("invalid value for \"until\": it is before \"since\"")
	}
	ctx := r.Context()
	logs, err := s.backend.ContainerLogs(ctx, r.PathValue("id"), opts)
	if err != nil {
		return err
	}
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", streamType(r, logs.TTY))
	w.WriteHeader(http.StatusOK)
	_ = rc.Flush()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-logs.Entries:
			if !ok {
				return nil
			}
			stream := Stdout
			if e.Stream == int(Stderr) {
				stream = Stderr
			}
			if (stream == Stdout && !opts.Stdout) || (stream == Stderr && !opts.Stderr) {
				continue
			}
			data := e.Data
			if opts.Timestamps {
				data = append([]byte(e.Time.UTC().Format(TimestampFormat)+" "), data...)
			}
			var out io.Writer = w
			if !logs.TTY {
				out = NewStdWriter(w, stream)
			}
			if _, err := out.Write(data); err != nil {
				return nil // the client left
			}
			_ = rc.Flush()
		}
	}
}

// containerAttach connects the client to the container's streams over the
// hijacked connection. It asks the backend for the container first: to
// answer an unknown container with a plain 404, and to learn whether it
// has a terminal, which decides the framing.
func (s *Server) containerAttach(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	name := r.PathValue("id")
	info, err := s.backend.ContainerInspect(r.Context(), name)
	if err != nil {
		return err
	}
	tty := info.Config != nil && info.Config.Tty
	h, ctx, err := s.hijack(w, r, streamType(r, tty))
	if err != nil {
		return err
	}
	defer h.close()

	opts := AttachOptions{
		Logs:       boolValue(q, "logs"),
		Stream:     boolValue(q, "stream"),
		DetachKeys: q.Get("detachKeys"),
		Attached:   func() { _ = h.answer() },
	}
	if boolValue(q, "stdin") {
		opts.Stdin = h.stdin()
	}
	opts.Stdout, opts.Stderr = h.streams(tty, boolValue(q, "stdout"), boolValue(q, "stderr"))

	grace := time.AfterFunc(attachGrace, func() {
		if !h.answered.Load() {
			s.log.Warn("the backend did not call AttachOptions.Attached; answering the attach anyway", "container", name)
			_ = h.answer()
		}
	})
	defer grace.Stop()

	err = s.protect(r, func() error { return s.backend.ContainerAttach(ctx, name, opts) })
	if err != nil && !errors.Is(err, ErrDetached) && ctx.Err() == nil {
		h.fail(fmt.Errorf("attaching to %s: %w", name, err), tty)
	}
	return nil
}

func (s *Server) containerResize(w http.ResponseWriter, r *http.Request) error {
	return resize(w, r, s.backend.ContainerResize)
}

// resize answers a resize request (?h=ROWS&w=COLUMNS) of a container's or
// an exec's terminal with the backend's function for it.
func resize(w http.ResponseWriter, r *http.Request, set func(ctx context.Context, id string, height, width uint) error) error {
	q := r.URL.Query()
	height, err := sizeValue(q, "h")
	if err != nil {
		return err
	}
	width, err := sizeValue(q, "w")
	if err != nil {
		return err
	}
	if err := set(r.Context(), r.PathValue("id"), height, width); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) containerExport(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("id")
	return s.streamBody(w, r, "application/x-tar", func(out io.Writer) error {
		return s.backend.ContainerExport(r.Context(), name, out)
	})
}

func (s *Server) containerChanges(w http.ResponseWriter, r *http.Request) error {
	changes, err := s.backend.ContainerChanges(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if changes == nil {
		changes = []container.FilesystemChange{}
	}
	writeJSON(w, http.StatusOK, changes)
	return nil
}

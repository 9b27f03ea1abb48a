package api

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/api/types/system"
	"github.com/moby/moby/api/types/volume"

	"github.com/berth-project/berth/final/events"
	"github.com/berth-project/berth/final/filters"
)

// Backend is what the API server asks of the engine. The daemon package
// implements it with the chapters' packages; tests use a fake. Every
// method takes names or ID prefixes exactly as the client sent them and
// resolves them itself.
//
// Errors carry their kind with github.com/containerd/errdefs
// (errdefs.ErrNotFound, ErrConflict, ErrInvalidArgument, ErrNotModified,
// ...), wrapped with fmt.Errorf("...: %w"); the server maps the kind to
// the HTTP status the docker client expects (404, 409, 400, 304, ...).
type Backend interface {
	// System
	Version(ctx context.Context) (system.VersionResponse, error)
	Info(ctx context.Context) (system.Info, error)
	// Events subscribes to the engine's events (GET /events): the kept
	// ones from since to until that f takes, then live ones (final/events
	// says how since, until and a nil f are read). The server closes the
	// subscription when the client goes.
	Events(ctx context.Context, since, until time.Time, f *events.Filter) (*events.Subscription, error)

	// Containers
	ContainerCreate(ctx context.Context, name string, req container.CreateRequest) (container.CreateResponse, error)
	// ContainerStart starts a created or stopped container. When the
	// start fails for a container with HostConfig.AutoRemove, the
	// container is removed all the same, as dockerd does: `docker run
	// --rm` waits for the removal (condition "removed") even then.
	ContainerStart(ctx context.Context, name string) error
	ContainerStop(ctx context.Context, name string, timeout *int, signal string) error
	ContainerRestart(ctx context.Context, name string, timeout *int, signal string) error
	ContainerKill(ctx context.Context, name string, signal string) error
	// ContainerPause freezes every process of a running container
	// (docker pause) until ContainerUnpause. Pausing a container that
	// does not run or is paused already, and unpausing one that is not
	// paused, are conflicts (errdefs.ErrConflict, 409). A paused
	// container shows as State.Paused (and Running), status "paused".
	ContainerPause(ctx context.Context, name string) error
	ContainerUnpause(ctx context.Context, name string) error
	// ContainerRename gives a container a new name (docker rename),
	// running or not. An empty name or the container's own name is
	// invalid (400), a name another container has is a conflict (409);
	// both messages start "Error when allocating new name: " for a name
	// that cannot be taken, as dockerd's do.
	ContainerRename(ctx context.Context, name, newName string) error
	// ContainerUpdate changes what docker update changes: the restart
	// policy (RestartPolicy.Name empty: unchanged) and the resources
	// (zero fields: unchanged). A field the engine does not apply is
	// refused by name (UpdatedResources, RefuseUpdate), never ignored.
	ContainerUpdate(ctx context.Context, name string, req container.UpdateConfig) (container.UpdateResponse, error)
	ContainerRemove(ctx context.Context, name string, force, volumes bool) error
	// ContainerRemoveLink removes a legacy link, named /LINKER/ALIAS
	// (docker rm --link): the linking container loses the alias and
	// its variables, the target stays.
	ContainerRemoveLink(ctx context.Context, name string) error
	// ContainersPrune removes every container that is not running and
	// matches args (until, label, label!), as docker container prune:
	// their anonymous volumes stay, as Docker's.
	ContainersPrune(ctx context.Context, args filters.Args) (container.PruneReport, error)
	// ContainerWait returns once the container is in a state where it
	// can be waited for (for "next-exit": created or running); the
	// channel then delivers the result when the condition is met, or is
	// closed without a value if ctx ends first.
	ContainerWait(ctx context.Context, name string, condition container.WaitCondition) (<-chan container.WaitResponse, error)
	ContainerList(ctx context.Context, opts ListOptions) ([]container.Summary, error)
	ContainerInspect(ctx context.Context, name string) (container.InspectResponse, error)
	ContainerTop(ctx context.Context, name string, psArgs string) (container.TopResponse, error)
	// ContainerStats samples the container's counters once. A container
	// that does not run gives a sample with only its name and ID (and a
	// zero Read), as in dockerd; the server fills precpu_stats.
	ContainerStats(ctx context.Context, name string) (container.StatsResponse, error)
	ContainerLogs(ctx context.Context, name string, opts LogsOptions) (Logs, error)
	ContainerAttach(ctx context.Context, name string, opts AttachOptions) error
	ContainerResize(ctx context.Context, name string, height, width uint) error
	ContainerExport(ctx context.Context, name string, w io.Writer) error
	ContainerChanges(ctx context.Context, name string) ([]container.FilesystemChange, error)
	// docker cp (archive.go). Paths are the container's, resolved in
	// its root (a symlink never leads out of it), on a running or a
	// stopped container. A missing path is errdefs.ErrNotFound with
	// Docker's words ("Could not find the file P in container C").
	ContainerStatPath(ctx context.Context, name, path string) (container.PathStat, error)
	// ContainerArchivePath writes a tar of path to w; it calls stat
	// with path's stat before the first byte (the answer's header).
	ContainerArchivePath(ctx context.Context, name, path string, stat func(container.PathStat) error, w io.Writer) error
	// ContainerExtractToDir extracts the tar content (possibly
	// compressed) into the directory path, which must exist. A
	// read-only destination is errdefs.ErrPermissionDenied (403).
	ContainerExtractToDir(ctx context.Context, name, path string, opts CopyToOptions, content io.Reader) error

	// Exec
	ExecCreate(ctx context.Context, name string, req container.ExecCreateRequest) (string, error)
	// ExecStart runs the exec process; with opts.Detach it returns at
	// once, otherwise when the process has exited and its output is
	// written. The exit code must be recorded before it returns.
	ExecStart(ctx context.Context, execID string, opts ExecStartOptions) error
	ExecResize(ctx context.Context, execID string, height, width uint) error
	ExecInspect(ctx context.Context, execID string) (container.ExecInspectResponse, error)

	// Images
	ImageList(ctx context.Context, all bool) ([]image.Summary, error)
	ImageInspect(ctx context.Context, name string) (image.InspectResponse, error)
	ImageHistory(ctx context.Context, name string) ([]image.HistoryResponseItem, error)
	ImageTag(ctx context.Context, source, repo, tag string) error
	ImageRemove(ctx context.Context, name string, force, prune bool) ([]image.DeleteResponse, error)
	// ImagesPrune removes the images docker image prune removes (see
	// PruneImages, which a backend may use); filters: dangling, until,
	// label, label!.
	ImagesPrune(ctx context.Context, args filters.Args) (image.PruneReport, error)
	// BuildCachePrune prunes the build cache (docker builder prune; see
	// build_prune.go): the filters are checked by BuildPruneFilter.
	BuildCachePrune(ctx context.Context, opts BuildPruneOptions) (build.CachePruneReport, error)
	// SystemDiskUsage is docker system df's data (see DiskUsage).
	SystemDiskUsage(ctx context.Context) (DiskUsage, error)
	ContainerCommit(ctx context.Context, opts CommitOptions) (string, error)
	// ImageImport, ImageLoad and ImageBuild report progress as JSON
	// messages on out (see JSONMessage); their errors after the first
	// byte is written go in band, as Docker does.
	ImageImport(ctx context.Context, src io.Reader, opts ImportOptions, out JSONStream) error
	ImageSave(ctx context.Context, names []string, w io.Writer) error
	ImageLoad(ctx context.Context, src io.Reader, quiet bool, out JSONStream) error
	ImageBuild(ctx context.Context, contextTar io.Reader, opts BuildOptions, out JSONStream) error

	// Registries. ImagePull fetches ref ("busybox:latest",
	// "host:5000/team/app@sha256:...", or a name alone with
	// opts.AllTags) into the store; ImagePush sends ref ("name:tag", or
	// a name alone with opts.AllTags: every tag of it). Both report as
	// dockerd does, in its words ("Pulling fs layer", "Downloading"
	// with ProgressDetail, "Pull complete", "Digest: ...", "Status:
	// ..."; "Preparing", "Pushing", "Pushed", the push's aux {Tag,
	// Digest, Size}); the server renders the progress bars. The
	// credentials are the client's (nil: none); the daemon has none of
	// its own. A registry's refusals carry their kind: no such
	// repository, tag or digest errdefs.ErrNotFound (404, and so is a
	// pull the registry refused, as in dockerd), credentials refused or
	// wanted errdefs.ErrUnauthenticated (401), a reference
	// or a manifest berth refuses errdefs.ErrInvalidArgument (400).
	ImagePull(ctx context.Context, ref string, opts PullOptions, out JSONStream) error
	ImagePush(ctx context.Context, ref string, opts PushOptions, out JSONStream) error
	// RegistryLogin checks auth against auth.ServerAddress ("" is
	// Docker Hub) and returns the identity token the registry gave, if
	// any. Bad credentials are errdefs.ErrUnauthenticated with the
	// registry's words.
	RegistryLogin(ctx context.Context, auth registry.AuthConfig) (registry.AuthResponse, error)
	// DistributionInspect resolves ref's manifest (or index) on its
	// registry without pulling: its descriptor and platforms.
	DistributionInspect(ctx context.Context, ref string, auth *registry.AuthConfig) (registry.DistributionInspect, error)

	// Volumes (the local driver's). VolumeCreate returns an existing
	// volume of the name as it is. VolumeRemove is a conflict while a
	// container uses the volume; force makes a missing one no error.
	// VolumeList's filters: name, driver, label, dangling; VolumesPrune's:
	// label, label!, all (without all=true only anonymous volumes go).
	VolumeCreate(ctx context.Context, req volume.CreateRequest) (volume.Volume, error)
	VolumeList(ctx context.Context, args filters.Args) (volume.ListResponse, error)
	VolumeInspect(ctx context.Context, name string) (volume.Volume, error)
	VolumeRemove(ctx context.Context, name string, force bool) error
	VolumesPrune(ctx context.Context, args filters.Args) (volume.PruneReport, error)

	// Networks: the three built-in ones (bridge, host, none) and the
	// user-defined bridges. NetworkList returns them all, each with its
	// running containers; the server filters them, and finds one for
	// inspect and prune.
	NetworkList(ctx context.Context) ([]network.Inspect, error)
	NetworkCreate(ctx context.Context, req network.CreateRequest) (network.CreateResponse, error)
	// NetworkRemove fails with a conflict for a network in use, and a
	// permission error for a built-in one.
	NetworkRemove(ctx context.Context, ref string) error
	NetworkConnect(ctx context.Context, ref string, req network.ConnectRequest) error
	NetworkDisconnect(ctx context.Context, ref string, req network.DisconnectRequest) error
}

// ListOptions are the query of GET /containers/json.
type ListOptions struct {
	All     bool
	Limit   int // the Limit most recently created; 0 means no limit
	Size    bool
	Filters filters.Args // name, id, status, label, ancestor, ...
}

// LogsOptions are the query of GET /containers/{id}/logs.
type LogsOptions struct {
	Stdout, Stderr bool
	Follow         bool
	Timestamps     bool
	Tail           int // -1: all
	Since, Until   time.Time
}

// Logs is a container's log as the client will receive it.
type Logs struct {
	// TTY says the container has a terminal: the stream is sent raw,
	// stdout only, without stdcopy frames.
	TTY bool
	// Entries delivers the records in order and is closed at the end
	// (when not following, at the end of the log; when following, when
	// the container stops or ctx is done).
	Entries <-chan LogEntry
}

// LogEntry is one record of a container's log.
type LogEntry struct {
	Stream int // 1 stdout, 2 stderr
	Time   time.Time
	Data   []byte
}

// AttachOptions connect a client's hijacked connection to a container.
// Stdin is nil unless the client asked for stdin; Stdout and Stderr are
// nil unless asked for. For a container with a terminal, Stderr is nil and
// Stdout gets the terminal's output raw. ContainerAttach returns when the
// container's output ends (it exited) or ctx is done, or when the client
// detached with the detach keys (then with ErrDetached).
type AttachOptions struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Logs           bool // replay the log first (attach?logs=1)
	Stream         bool // then stream live output
	// DetachKeys end the attachment without stopping the container
	// (default ctrl-p,ctrl-q); empty means the default.
	DetachKeys string
	// Attached must be called by ContainerAttach once the streams are
	// connected, before it waits for output. The server answers the
	// client's upgrade ("101 UPGRADED") in it: the docker client starts
	// the container only after that answer, so output written between
	// the answer and the start cannot be lost. Calling it more than once
	// is harmless. An error returned before Attached was called reaches
	// the client as an ordinary HTTP error (404, 409, ...). A backend
	// that never calls it is answered for after a second, or at its first
	// output.
	Attached func()
}

// ErrDetached is returned by ContainerAttach when the client detached
// with the detach keys.
var ErrDetached = errors.New("detached from the container")

// ExecStartOptions connect a client's hijacked connection to an exec
// process (or not, with Detach). Without Detach the server passes all the
// client's streams (Stderr is nil with Tty, whose output is raw on Stdout);
// the backend connects those the exec was created with (AttachStdin,
// AttachStdout, AttachStderr). Stdin returns io.EOF when the client has
// closed its side.
type ExecStartOptions struct {
	Detach         bool
	Tty            bool
	ConsoleSize    *[2]uint
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// CommitOptions are the query and body of POST /commit.
//
// In CommitOptions, ImportOptions, BuildOptions and ImageTag the server
// hands over image references normalized to their familiar form, whatever
// the client sent (docker 20.10 sends "foo", 28.x "docker.io/library/foo"):
// Repo is "foo" or "example.com/team/foo", and Tag is never empty when Repo
// is set ("latest" by default). Build tags are "repo:tag" in the same form.
type CommitOptions struct {
	Container string
	Repo, Tag string
	Comment   string
	Author    string
	Changes   []string // Dockerfile instructions: CMD, ENV, ...
	Pause     bool
	Config    *container.Config
}

// ImportOptions are the query of POST /images/create?fromSrc=-.
type ImportOptions struct {
	Repo, Tag string
	Message   string
	Changes   []string
}

// BuildOptions are the query of POST /build.
type BuildOptions struct {
	Tags       []string
	Dockerfile string
	BuildArgs  map[string]*string
	NoCache    bool
	Remove     bool
	ForceRm    bool
	Labels     map[string]string
	// AuthConfigs are the client's credentials by registry host (the
	// X-Registry-Config header), for FROM images that are pulled.
	AuthConfigs map[string]registry.AuthConfig
}

// PullOptions are the query and credentials of a pull.
type PullOptions struct {
	// AllTags: ref is a name alone, and every tag of it is pulled.
	AllTags bool
	// Platform is "os/arch[/variant]"; "" means the daemon's.
	Platform string
	// Auth is the X-Registry-Auth header's credentials; nil: none.
	Auth *registry.AuthConfig
}

// PushOptions are the query and credentials of a push.
type PushOptions struct {
	// AllTags: ref is a name alone, and every tag of it is pushed.
	AllTags bool
	Auth    *registry.AuthConfig
}

// JSONStream writes newline-delimited JSON messages to the client, as
// Docker's load, import, build and pull endpoints do.
type JSONStream interface {
	Write(msg JSONMessage) error
}

// JSONMessage is one message of such a stream. Exactly one of the groups
// is set: Stream (text for the user), Status with optional progress, Aux,
// or an error.
type JSONMessage struct {
	Stream         string          `json:"stream,omitempty"`
	Status         string          `json:"status,omitempty"`
	ID             string          `json:"id,omitempty"`
	Progress       string          `json:"progress,omitempty"`
	ProgressDetail *ProgressDetail `json:"progressDetail,omitempty"`
	Aux            any             `json:"aux,omitempty"`
	Error          string          `json:"error,omitempty"`
	ErrorDetail    *ErrorDetail    `json:"errorDetail,omitempty"`
}

// ProgressDetail is the progress of one step of a stream.
type ProgressDetail struct {
	Current int64 `json:"current,omitempty"`
	Total   int64 `json:"total,omitempty"`
}

// ErrorDetail is an in-band error of a stream.
type ErrorDetail struct {
	Message string `json:"message"`
}

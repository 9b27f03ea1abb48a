package registry

import (
	"errors"
	"io"

	"github.com/berth-project/berth/06-images/image"
)

// Config is how a Client reaches registries; the daemon has one.
type Config struct {
	// Insecure lists registries reached over plain HTTP (and HTTPS
	// without verification): "host[:port]" or a CIDR. 127.0.0.0/8 and
	// ::1 are always insecure, as in dockerd.
	Insecure []string
	// Mirrors are tried, in order, before Docker Hub for docker.io
	// names: URLs ("https://mirror.example:5000").
	Mirrors []string
	// CertsDirs hold HOST:PORT/{ca.crt,client.cert,client.key}; nil
	// means /etc/berth/certs.d, then /etc/docker/certs.d.
	CertsDirs []string
	// Concurrency is how many layers move at once; 0 means 3 (dockerd's).
	Concurrency int
	// Verbose, when set, gets one line per HTTP request and response
	// (method, URL, status, the headers that teach: WWW-Authenticate,
	// Accept, Content-Type, Docker-Content-Digest, Location, Range).
	// Authorization values are never printed.
	Verbose io.Writer
	// UserAgent is sent with every request.
	UserAgent string
}

// AuthConfig is what a client sends for a registry: the JSON of the
// X-Registry-Auth header (base64url of it) and of POST /auth's body.
type AuthConfig struct {
	Username      string `json:"username,omitempty"`
	Password      string `json:"password,omitempty"`
	Auth          string `json:"auth,omitempty"` // base64(user:password)
	ServerAddress string `json:"serveraddress,omitempty"`
	IdentityToken string `json:"identitytoken,omitempty"`
	RegistryToken string `json:"registrytoken,omitempty"`
}

// Progress is one line of the progress a pull or push reports, in
// dockerd's words so the daemon can pass it on as a JSON message:
// {ID: "latest", Status: "Pulling from library/busybox"},
// {ID: "<12 hex>", Status: "Pulling fs layer" | "Waiting" | "Downloading"
// (with Current/Total) | "Verifying Checksum" | "Download complete" |
// "Extracting" (Current/Total) | "Pull complete" | "Already exists"},
// {Status: "Digest: sha256:..."}, {Status: "Status: Downloaded newer
// image for busybox:latest"} or "Status: Image is up to date for ...";
// push: "The push refers to repository [...]", "Preparing", "Waiting",
// "Pushing" (Current/Total), "Pushed", "Layer already exists",
// "Mounted from REPO", "TAG: digest: sha256:... size: N".
// Aux, when set, is the push's {Tag, Digest, Size} record.
type Progress struct {
	ID      string
	Status  string
	Current int64
	Total   int64
	Aux     *PushResult
}

// ProgressFunc receives progress; nil means none. It may be called from
// several goroutines, one at a time.
type ProgressFunc func(Progress)

// Errors the daemon maps to HTTP statuses (errors.Is).
var (
	// ErrNotFound: the registry has no such repository, tag or digest
	// (manifest unknown, name unknown).
	ErrNotFound = errors.New("not found")
	// ErrUnauthorized: the registry refused the credentials, or wants
	// some (401, denied).
	ErrUnauthorized = errors.New("unauthorized")
	// ErrInvalidReference: the name does not parse.
	ErrInvalidReference = errors.New("invalid reference format")
	// ErrUnsupported: a manifest, media type or layer berth refuses
	// (foreign layers, schema 1, an unknown platform).
	ErrUnsupported = errors.New("unsupported")
	// ErrCorrupt: a blob's bytes do not match its digest or its size
	// (a corrupted or truncated download).
	ErrCorrupt = errors.New("content does not match its digest")
)

// PullOptions modify a pull.
type PullOptions struct {
	// Platform is "os/arch[/variant]"; "" means the host's (linux/amd64).
	Platform string
	// AllTags pulls every tag of the repository (ref must have no tag).
	AllTags bool
	// Auth is the client's credentials; nil means those of the docker
	// config file (~/.docker/config.json, DOCKER_CONFIG) and its
	// credential helpers.
	Auth *AuthConfig
	// Progress receives dockerd's progress lines.
	Progress ProgressFunc
}

// PullResult is one image a pull stored.
type PullResult struct {
	// Ref is the familiar name pulled: "busybox:latest",
	// "127.0.0.1:5000/team/app@sha256:...".
	Ref string
	// ID is the image ID (the config's digest).
	ID image.Digest
	// Digest is the manifest's digest, as RepoDigests shows it.
	Digest string
	// UpToDate: the store had the image already; nothing was fetched
	// but the manifest.
	UpToDate bool
}

// PushOptions modify a push.
type PushOptions struct {
	// AllTags pushes every tag of the repository (ref without a tag).
	AllTags  bool
	Auth     *AuthConfig
	Progress ProgressFunc
}

// PushResult is one tag a push sent: dockerd's aux message.
type PushResult struct {
	Tag    string `json:"Tag"`
	Digest string `json:"Digest"`
	Size   int64  `json:"Size"`
}

// Descriptor is GET /distribution/{name}/json's answer, in its JSON.
type Descriptor struct {
	Descriptor struct {
		MediaType string `json:"mediaType"`
		Digest    string `json:"digest"`
		Size      int64  `json:"size"`
	} `json:"Descriptor"`
	Platforms []Platform `json:"Platforms"`
}

// Platform is an image's platform as OCI writes it.
type Platform struct {
	Architecture string   `json:"architecture"`
	OS           string   `json:"os"`
	OSVersion    string   `json:"os.version,omitempty"`
	OSFeatures   []string `json:"os.features,omitempty"`
	Variant      string   `json:"variant,omitempty"`
}

package image

import (
	"encoding/json"
	"fmt"
	"runtime"
	"time"
)

// Config is an image's configuration: the JSON document whose sha256 is the
// image ID. Its format is the OCI image configuration, which Docker's is a
// superset of. The fields here are the ones berth reads and writes; a
// loaded image keeps its JSON exactly as it came (Store.RawConfig), fields
// berth does not know included, because changing one byte would change the
// image's ID.
type Config struct {
	Created      *time.Time      `json:"created,omitempty"`
	Author       string          `json:"author,omitempty"`
	Architecture string          `json:"architecture"`
	OS           string          `json:"os"`
	Variant      string          `json:"variant,omitempty"`
	Config       ContainerConfig `json:"config"`
	RootFS       RootFS          `json:"rootfs"`
	History      []History       `json:"history,omitempty"`
}

// ContainerConfig is what a container made from the image runs by default:
// `docker run IMAGE` with no command runs Entrypoint + Cmd, as User, in
// WorkingDir, with Env.
type ContainerConfig struct {
	User         string              `json:"User,omitempty"`
	ExposedPorts map[string]struct{} `json:"ExposedPorts,omitempty"`
	Env          []string            `json:"Env,omitempty"`
	Entrypoint   []string            `json:"Entrypoint,omitempty"`
	Cmd          []string            `json:"Cmd,omitempty"`
	Volumes      map[string]struct{} `json:"Volumes,omitempty"`
	WorkingDir   string              `json:"WorkingDir,omitempty"`
	Labels       map[string]string   `json:"Labels,omitempty"`
	StopSignal   string              `json:"StopSignal,omitempty"`
	// Docker's own fields, carried over when an image is committed from a
	// Docker-built one. berth does not act on them.
	Healthcheck json.RawMessage `json:"Healthcheck,omitempty"`
	Shell       []string        `json:"Shell,omitempty"`
	OnBuild     []string        `json:"OnBuild,omitempty"`
	ArgsEscaped bool            `json:"ArgsEscaped,omitempty"`
}

// Command is what a container of this image runs when `run` is given args
// (which replace Cmd, not Entrypoint), as Docker combines them.
func (c ContainerConfig) Command(args []string) []string {
	cmd := c.Cmd
	if len(args) > 0 {
		cmd = args
	}
	return append(append([]string{}, c.Entrypoint...), cmd...)
}

// RootFS lists the image's layers, bottom first, by diffID: the sha256 of
// each layer's uncompressed tar.
type RootFS struct {
	Type    string   `json:"type"` // always "layers"
	DiffIDs []Digest `json:"diff_ids"`
}

// History is one step of how the image was made: a Dockerfile instruction,
// a commit, an import. A step that changed no file (ENV, CMD) is an
// EmptyLayer; every other step has one layer in RootFS, in order.
type History struct {
	Created    *time.Time `json:"created,omitempty"`
	CreatedBy  string     `json:"created_by,omitempty"`
	Author     string     `json:"author,omitempty"`
	Comment    string     `json:"comment,omitempty"`
	EmptyLayer bool       `json:"empty_layer,omitempty"`
}

// ParseConfig decodes and checks an image config: its diffIDs must be
// digests. The history is not checked against the layers: some tools write
// none, and it only informs `history`.
func ParseConfig(raw []byte) (Config, error) {
	var c Config
	if err := json.Unmarshal(raw, &c); err != nil {
		return Config{}, fmt.Errorf("image config: %w", err)
	}
	if c.RootFS.Type != "layers" {
		return Config{}, fmt.Errorf("image config: rootfs type %q, want \"layers\"", c.RootFS.Type)
	}
	for _, d := range c.RootFS.DiffIDs {
		if err := d.Validate(); err != nil {
			return Config{}, fmt.Errorf("image config: diff_ids: %w", err)
		}
	}
	return c, nil
}

// newConfig starts the config of a new image on this machine.
func newConfig(created time.Time) Config {
	return Config{
		Created:      &created,
		Architecture: runtime.GOARCH,
		OS:           "linux",
		RootFS:       RootFS{Type: "layers", DiffIDs: []Digest{}},
	}
}

// marshal encodes a config berth made. Its bytes are final: the image ID
// is their digest.
func (c Config) marshal() ([]byte, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encoding image config: %w", err)
	}
	return b, nil
}

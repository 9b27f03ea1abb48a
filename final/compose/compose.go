package compose

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// ProjectLabel is the label Compose puts on every container, network
// and volume of a project, with the project's name as its value; both
// clients find "their" objects by it (with ServiceLabel and OneoffLabel
// for containers).
const (
	ProjectLabel = "com.docker.compose.project"
	ServiceLabel = "com.docker.compose.service"
	OneoffLabel  = "com.docker.compose.oneoff"
)

// Client is one Compose program: Compose v2 as a plugin of the docker
// CLI (`docker compose`), or the python docker-compose 1.29
// (`docker-compose`). Both take the same global flags and most of the
// same commands.
type Client struct {
	// Name says which: "v2" or "v1".
	Name string
	// argv is the command line before the Compose arguments.
	argv []string
}

// V2 finds Compose v2: the docker CLI, and its compose plugin where the
// CLI looks for plugins (scripts/compose-plugin installs it there).
func V2() (Client, error) {
	docker, err := exec.LookPath("docker")
	if err != nil {
		return Client{}, fmt.Errorf("compose v2: the docker CLI: %w", err)
	}
	for _, dir := range pluginDirs() {
		p := filepath.Join(dir, "docker-compose")
		if fi, err := os.Stat(p); err == nil && fi.Mode()&0o111 != 0 {
			return Client{Name: "v2", argv: []string{docker, "compose"}}, nil
		}
	}
	return Client{}, fmt.Errorf("compose v2: no docker-compose plugin in %s (run scripts/compose-plugin)",
		strings.Join(pluginDirs(), ", "))
}

// pluginDirs are where the docker CLI looks for its plugins, the
// user's own first.
func pluginDirs() []string {
	config := os.Getenv("DOCKER_CONFIG")
	if config == "" {
		home, _ := os.UserHomeDir()
		config = filepath.Join(home, ".docker")
	}
	return []string{
		filepath.Join(config, "cli-plugins"),
		"/usr/local/lib/docker/cli-plugins", "/usr/local/libexec/docker/cli-plugins",
		"/usr/lib/docker/cli-plugins", "/usr/libexec/docker/cli-plugins",
	}
}

// V1 finds the python docker-compose (Debian's docker-compose package,
// 1.29).
func V1() (Client, error) {
	p, err := exec.LookPath("docker-compose")
	if err != nil {
		return Client{}, fmt.Errorf("compose v1: %w (Debian: apt-get install docker-compose)", err)
	}
	return Client{Name: "v1", argv: []string{p}}, nil
}

// Project is one Compose project on one engine: the client, the
// engine's address, the project's directory and name.
type Project struct {
	Client Client
	// Host is the engine, as DOCKER_HOST says it (unix://PATH).
	Host string
	// Dir holds compose.yaml (and .env); Compose resolves ./ paths
	// against it.
	Dir string
	// Name is the project's name (-p).
	Name string
	// Files are the compose files (-f), relative to Dir; none means
	// Compose's default (compose.yaml).
	Files []string
	// Env is added to the client's environment (WEB_PORT=...).
	Env []string
}

// Command is the command line of a Compose command in the project.
func (p Project) Command(ctx context.Context, args ...string) *exec.Cmd {
	argv := append([]string{}, p.Client.argv[1:]...)
	argv = append(argv, "--project-directory", p.Dir, "-p", p.Name)
	for _, f := range p.Files {
		argv = append(argv, "-f", filepath.Join(p.Dir, f))
	}
	argv = append(argv, args...)
	cmd := exec.CommandContext(ctx, p.Client.argv[0], argv...)
	cmd.Dir = p.Dir
	cmd.Env = p.env()
	return cmd
}

// env is the client's environment: ours without any DOCKER_ setting
// that could point it elsewhere, then the engine's, then the project's.
func (p Project) env() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DOCKER_") && !strings.HasPrefix(kv, "COMPOSE_") {
			env = append(env, kv)
		}
	}
	env = append(env, "DOCKER_HOST="+p.Host,
		// No progress bars, colours or terminal tricks: plain lines.
		"COMPOSE_PROGRESS=plain", "COMPOSE_ANSI=never", "NO_COLOR=1")
	return append(env, p.Env...)
}

// Run runs a Compose command and returns its output; the error says
// the command and what it printed on stderr.
func (p Project) Run(ctx context.Context, args ...string) (stdout, stderr string, err error) {
	cmd := p.Command(ctx, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return out.String(), errOut.String(), fmt.Errorf("compose %s %s: %w: %s", p.Client.Name, strings.Join(args, " "), err, errOut.String())
	}
	return out.String(), errOut.String(), nil
}

// Docker runs the docker CLI against the project's engine.
func (p Project) Docker(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Env = p.env()
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("docker %s: %w: %s", strings.Join(args, " "), err, errOut.String())
	}
	return out.String(), nil
}

// Containers lists the project's containers (running or not) by
// service name, as Compose finds them: by its labels.
func (p Project) Containers(ctx context.Context) (map[string][]string, error) {
	out, err := p.Docker(ctx, "ps", "-a", "--no-trunc", "--filter", "label="+ProjectLabel+"="+p.Name,
		"--format", `{{.ID}} {{.Label "`+ServiceLabel+`"}}`)
	if err != nil {
		return nil, err
	}
	byService := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		id, service, ok := strings.Cut(line, " ")
		if ok {
			byService[service] = append(byService[service], id)
		}
	}
	for _, ids := range byService {
		sort.Strings(ids)
	}
	return byService, nil
}

// WaitHealthy waits until every running container of the project that
// has a healthcheck is healthy, the way a user of Compose 1.29 (which
// has no `up --wait`) does: by asking the engine, again and again,
// until the answer is yes, an unhealthy one makes it no, or ctx ends.
func (p Project) WaitHealthy(ctx context.Context) error {
	for {
		ready, err := p.healthy(ctx)
		if err != nil || ready {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("project %s: waiting for its containers to be healthy: %w", p.Name, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// healthy reports whether every checked container of the project is
// healthy; an unhealthy one is an error.
func (p Project) healthy(ctx context.Context) (bool, error) {
	byService, err := p.Containers(ctx)
	if err != nil {
		return false, err
	}
	var ids []string
	for _, s := range byService {
		ids = append(ids, s...)
	}
	if len(ids) == 0 {
		return false, fmt.Errorf("project %s has no containers", p.Name)
	}
	out, err := p.Docker(ctx, append([]string{"inspect", "--format", "{{json .State}}"}, ids...)...)
	if err != nil {
		return false, err
	}
	ready := true
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var st struct {
			Running bool
			Health  *struct{ Status string }
		}
		if err := json.Unmarshal([]byte(line), &st); err != nil {
			return false, fmt.Errorf("project %s: inspect: %w", p.Name, err)
		}
		switch {
		case st.Health == nil || !st.Running:
		case st.Health.Status == "unhealthy":
			return false, errors.New("project " + p.Name + ": a container is unhealthy")
		case st.Health.Status != "healthy":
			ready = false
		}
	}
	return ready, nil
}

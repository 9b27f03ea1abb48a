package cli

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/distribution/reference"
	dockerconfig "github.com/docker/cli/cli/config"
	"github.com/docker/cli/cli/config/configfile"
	"github.com/docker/cli/cli/config/credentials"
	"github.com/docker/cli/cli/config/types"
	"github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/client"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// pull, push, login and logout. The daemon talks to the registries; the
// CLI owns the credentials. They live where docker keeps them,
// ~/.docker/config.json (or $DOCKER_CONFIG/config.json), in the file
// itself or, when the file names a credential helper (credsStore,
// credHelpers), in the helper: docker-credential-NAME get/store/erase.
// So a user logged in with docker is logged in with berth, and the other
// way round. docker/cli's config package reads and writes that file and
// runs the helpers: the same code as docker's, so the file stays
// docker's in every detail.
//
// Each request that reaches a registry carries the credentials for it
// in the X-Registry-Auth header: base64url of the JSON AuthConfig, as
// the docker CLI sends it.

// hubServer is the key under which docker stores Docker Hub's
// credentials (the old v1 index's address).
const hubServer = "https://index.docker.io/v1/"

// configDir is docker's config directory: $DOCKER_CONFIG, else
// ~/.docker.
func (c *CLI) configDir() string {
	if d := c.getenv("DOCKER_CONFIG"); d != "" {
		return d
	}
	home := c.getenv("HOME")
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	return filepath.Join(home, ".docker")
}

// loadConfig reads docker's config file. Without credentials in it and
// without a credsStore, the platform's default helper is used if it is
// installed (pass or secretservice on Linux), as docker does.
func (c *CLI) loadConfig() (*configfile.ConfigFile, error) {
	cfg, err := dockerconfig.Load(c.configDir())
	if err != nil {
		return nil, err
	}
	if !cfg.ContainsAuth() {
		cfg.CredentialsStore = credentials.DetectDefaultStore(cfg.CredentialsStore)
	}
	return cfg, nil
}

// serverKey is the key of a registry in the config file: Docker Hub's
// old index address, or host[:port] without scheme or path.
func serverKey(server string) string {
	if server == "" {
		return hubServer
	}
	host := credentials.ConvertToHostname(server)
	switch host {
	case "docker.io", "index.docker.io", "registry-1.docker.io":
		return hubServer
	}
	return host
}

// registryOf is the registry of an image reference, as a config key.
func registryOf(named reference.Named) string {
	return serverKey(reference.Domain(named))
}

// encodeAuth is the X-Registry-Auth value of a (possibly empty)
// AuthConfig.
func encodeAuth(a types.AuthConfig) (string, error) {
	data, err := json.Marshal(registry.AuthConfig{
		Username: a.Username, Password: a.Password, Auth: a.Auth, ServerAddress: a.ServerAddress,
		IdentityToken: a.IdentityToken, RegistryToken: a.RegistryToken,
	})
	if err != nil {
		return "", err
	}
	return base64.URLEncoding.EncodeToString(data), nil
}

// registryAuth is the X-Registry-Auth header for the registry of named:
// the stored credentials, or "{}" encoded when there are none, as
// docker sends.
func (c *CLI) registryAuth(named reference.Named) (string, error) {
	cfg, err := c.loadConfig()
	if err != nil {
		return "", err
	}
	key := registryOf(named)
	a, err := cfg.GetAuthConfig(key)
	if err != nil {
		return "", fmt.Errorf("credentials for %s: %w", key, err)
	}
	a.ServerAddress = key
	return encodeAuth(a)
}

// buildAuths are all the stored credentials, for a build's FROM pulls
// (the X-Registry-Config header): the builder cannot know beforehand
// which registries the Dockerfile names.
func (c *CLI) buildAuths() (map[string]registry.AuthConfig, error) {
	cfg, err := c.loadConfig()
	if err != nil {
		return nil, err
	}
	all, err := cfg.GetAllCredentials()
	if err != nil {
		return nil, err
	}
	out := make(map[string]registry.AuthConfig, len(all))
	for k, a := range all {
		out[k] = registry.AuthConfig{Username: a.Username, Password: a.Password, Auth: a.Auth, ServerAddress: a.ServerAddress,
			IdentityToken: a.IdentityToken, RegistryToken: a.RegistryToken}
	}
	return out, nil
}

// parsePlatform reads --platform's os/arch[/variant].
func parsePlatform(s string) (ocispec.Platform, error) {
	parts := strings.Split(strings.ToLower(s), "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return ocispec.Platform{}, fmt.Errorf("invalid platform %q: want os/arch[/variant]", s)
	}
	p := ocispec.Platform{OS: parts[0], Architecture: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	return p, nil
}

// transferRef reads the reference of a pull or push as the docker CLI
// does: a name alone means :latest (said unless quiet), except with
// --all-tags, which takes no tag.
func (c *CLI) transferRef(arg string, all, quiet bool) (reference.Named, error) {
	named, err := reference.ParseNormalizedNamed(arg)
	if err != nil {
		return nil, err
	}
	switch {
	case all && !reference.IsNameOnly(named):
		return nil, errors.New("tag can't be used with --all-tags/-a")
	case !all && reference.IsNameOnly(named):
		named = reference.TagNameOnly(named)
		if !quiet {
			fmt.Fprintln(c.Out, "Using default tag: latest")
		}
	}
	return named, nil
}

// showTransfer prints a pull's or push's progress (bars on a terminal),
// or nothing with quiet; an error the daemon sends in the stream is
// returned.
func (c *CLI) showTransfer(resp io.ReadCloser, quiet bool) error {
	defer resp.Close()
	out := c.Out
	if quiet {
		out = io.Discard
	}
	return displayJSONMessages(resp, out, !quiet && isTerminal(c.Out))
}

func newPullCommand(c *CLI) *cobra.Command {
	var all, quiet bool
	var platform string
	cmd := &cobra.Command{
		Use:   "pull [OPTIONS] NAME[:TAG|@DIGEST]",
		Short: "Download an image from a registry",
		Long: `Download an image from its registry into berthd's store: the manifest
(for a multi-platform image, the one of this machine's platform or of
--platform), then the layers that are not there yet, verified and
unpacked. A name without a registry is on Docker Hub; a name without a
tag means :latest, unless --all-tags pulls every tag. Credentials are
those of berth login (or docker login): ~/.docker/config.json.`,
		Example: `  berth pull busybox
  berth pull 127.0.0.1:5000/team/app:v2
  berth pull --platform linux/arm64 alpine@sha256:...`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			named, err := c.transferRef(args[0], all, quiet)
			if err != nil {
				return err
			}
			opts := client.ImagePullOptions{All: all}
			if platform != "" {
				p, err := parsePlatform(platform)
				if err != nil {
					return err
				}
				opts.Platforms = []ocispec.Platform{p}
			}
			if opts.RegistryAuth, err = c.registryAuth(named); err != nil {
				return err
			}
			cl, err := c.Client()
			if err != nil {
				return err
			}
			resp, err := cl.ImagePull(cmd.Context(), reference.FamiliarString(named), opts)
			if err != nil {
				return err
			}
			if err := c.showTransfer(resp, quiet); err != nil {
				return err
			}
			fmt.Fprintln(c.Out, named.String())
			return nil
		},
	}
	fs := cmd.Flags()
	fs.BoolVarP(&all, "all-tags", "a", false, "Download all tagged images in the repository")
	fs.StringVar(&platform, "platform", "", "Set platform if server is multi-platform capable")
	fs.BoolVarP(&quiet, "quiet", "q", false, "Suppress verbose output")
	return cmd
}

func newPushCommand(c *CLI) *cobra.Command {
	var all, quiet bool
	cmd := &cobra.Command{
		Use:   "push [OPTIONS] NAME[:TAG]",
		Short: "Upload an image to a registry",
		Long: `Upload an image of berthd's store to the registry its name says: the
layers the registry does not have yet, the configuration, and the
manifest last, which makes the tag appear. Give an image such a name with
berth tag first. --all-tags pushes every tag of the repository.`,
		Example: `  berth tag myapp 127.0.0.1:5000/team/myapp:v1
  berth push 127.0.0.1:5000/team/myapp:v1`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.Contains(args[0], "@") {
				return fmt.Errorf("invalid reference %s: an image is pushed by tag, not by digest", args[0])
			}
			named, err := c.transferRef(args[0], all, quiet)
			if err != nil {
				return err
			}
			opts := client.ImagePushOptions{All: all}
			if opts.RegistryAuth, err = c.registryAuth(named); err != nil {
				return err
			}
			cl, err := c.Client()
			if err != nil {
				return err
			}
			resp, err := cl.ImagePush(cmd.Context(), reference.FamiliarString(named), opts)
			if err != nil {
				return err
			}
			if err := c.showTransfer(resp, quiet); err != nil {
				return err
			}
			if quiet {
				fmt.Fprintln(c.Out, named.String())
			}
			return nil
		},
	}
	fs := cmd.Flags()
	fs.BoolVarP(&all, "all-tags", "a", false, "Push all tags of an image to the repository")
	fs.BoolVarP(&quiet, "quiet", "q", false, "Suppress verbose output")
	return cmd
}

func newLoginCommand(c *CLI) *cobra.Command {
	var username, password string
	var passwordStdin bool
	cmd := &cobra.Command{
		Use:   "login [OPTIONS] [SERVER]",
		Short: "Authenticate to a registry",
		Long: `Check credentials with a registry (berthd asks it) and store them in
~/.docker/config.json ($DOCKER_CONFIG), or in the credential helper the
file names, where docker stores them too. Without a server, Docker Hub.
Without -u and -p, the stored credentials are tried first, then asked
for on the terminal.`,
		Example: `  berth login 127.0.0.1:5000
  echo "$TOKEN" | berth login -u ci --password-stdin registry.example.com`,
		Args: requiresRangeArgs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			server := ""
			if len(args) == 1 {
				server = args[0]
			}
			key := serverKey(server)
			if password != "" {
				fmt.Fprintln(c.Err, "WARNING! Using --password via the CLI is insecure. Use --password-stdin.")
				if passwordStdin {
					return errors.New("--password and --password-stdin are mutually exclusive")
				}
			}
			if passwordStdin {
				if username == "" {
					return errors.New("Must provide --username with --password-stdin")
				}
				data, err := io.ReadAll(c.In)
				if err != nil {
					return err
				}
				password = strings.TrimRight(string(data), "\r\n")
			}
			cfg, err := c.loadConfig()
			if err != nil {
				return err
			}
			cl, err := c.Client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			// Stored credentials first, when none are given.
			if username == "" && password == "" {
				if stored, err := cfg.GetAuthConfig(key); err == nil && (stored.Username != "" || stored.IdentityToken != "") {
					stored.ServerAddress = key
					if res, err := c.login(ctx, cl, stored); err == nil {
						fmt.Fprintln(c.Out, "Authenticating with existing credentials...")
						return c.storeLogin(cfg, key, stored, res)
					}
				}
			}
			if username == "" || password == "" {
				if username, password, err = c.promptCredentials(key, username); err != nil {
					return err
				}
			}
			a := types.AuthConfig{Username: username, Password: password, ServerAddress: key}
			res, err := c.login(ctx, cl, a)
			if err != nil {
				return err
			}
			return c.storeLogin(cfg, key, a, res)
		},
	}
	fs := cmd.Flags()
	fs.StringVarP(&username, "username", "u", "", "Username")
	fs.StringVarP(&password, "password", "p", "", "Password or Personal Access Token (PAT)")
	fs.BoolVar(&passwordStdin, "password-stdin", false, "Take the Password or Personal Access Token (PAT) from stdin")
	return cmd
}

// login asks the daemon to check a with its registry.
func (c *CLI) login(ctx context.Context, cl *client.Client, a types.AuthConfig) (client.RegistryLoginResult, error) {
	return cl.RegistryLogin(ctx, client.RegistryLoginOptions{
		Username: a.Username, Password: a.Password, ServerAddress: a.ServerAddress,
		IdentityToken: a.IdentityToken, RegistryToken: a.RegistryToken,
	})
}

// storeLogin stores the credentials that worked: an identity token, when
// the registry gave one, instead of the password, as docker does.
func (c *CLI) storeLogin(cfg *configfile.ConfigFile, key string, a types.AuthConfig, res client.RegistryLoginResult) error {
	if res.Auth.IdentityToken != "" {
		a.Password, a.IdentityToken = "", res.Auth.IdentityToken
	}
	a.ServerAddress = key
	if err := cfg.GetCredentialsStore(key).Store(a); err != nil {
		return fmt.Errorf("Error saving credentials: %w", err)
	}
	// (docker/cli's file store warns, on stderr, that a password
	// stored in the file itself is unencrypted, as docker login does.)
	status := res.Auth.Status
	if status == "" {
		status = "Login Succeeded"
	}
	fmt.Fprintln(c.Out, status)
	return nil
}

// promptCredentials asks for what -u and -p did not give, on the
// terminal: the password without echo.
func (c *CLI) promptCredentials(key, username string) (string, string, error) {
	fd, ok := terminalFd(c.In)
	if !ok {
		return "", "", errors.New("Cannot perform an interactive login from a non TTY device")
	}
	r := bufio.NewReader(c.In)
	if username == "" {
		fmt.Fprint(c.Out, "Username: ")
		line, err := r.ReadString('\n')
		if err != nil {
			return "", "", err
		}
		username = strings.TrimSpace(line)
		if username == "" {
			return "", "", errors.New("Error: Non-null Username Required")
		}
	}
	fmt.Fprint(c.Out, "Password: ")
	pw, err := term.ReadPassword(fd)
	fmt.Fprintln(c.Out)
	if err != nil {
		return "", "", err
	}
	if len(pw) == 0 {
		return "", "", errors.New("Error: Password Required")
	}
	return username, string(pw), nil
}

func newLogoutCommand(c *CLI) *cobra.Command {
	return &cobra.Command{
		Use:   "logout [SERVER]",
		Short: "Log out from a registry",
		Long: `Remove the credentials of a registry (Docker Hub without a server) from
~/.docker/config.json or its credential helper. The daemon has nothing
to forget: it never keeps credentials.`,
		Example: `  berth logout 127.0.0.1:5000`,
		Args:    requiresRangeArgs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			server := ""
			if len(args) == 1 {
				server = args[0]
			}
			key := serverKey(server)
			cfg, err := c.loadConfig()
			if err != nil {
				return err
			}
			shown := key
			if len(args) == 1 {
				shown = args[0]
			}
			stored, err := cfg.GetAuthConfig(key)
			if _, inFile := cfg.AuthConfigs[key]; err == nil && stored.Username == "" && stored.IdentityToken == "" && !inFile {
				fmt.Fprintf(c.Out, "Not logged in to %s\n", shown)
				return nil
			}
			fmt.Fprintf(c.Out, "Removing login credentials for %s\n", shown)
			if err := cfg.GetCredentialsStore(key).Erase(key); err != nil {
				fmt.Fprintf(c.Err, "WARNING: could not erase credentials: %s: %v\n", key, err)
			}
			return nil
		},
	}
}

package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/distribution/reference"
	dockerconfig "github.com/docker/cli/cli/config"
	"github.com/docker/cli/cli/config/configfile"
	"github.com/docker/cli/cli/config/types"

	"github.com/berth-project/berth/01-namespaces/namespace"
	"github.com/berth-project/berth/06-images/registry"
)

// The registry commands: pull, push, login, logout. They print progress
// as plain lines in dockerd's words ("a3ed95caeb02: Pull complete"), one
// per change of a layer's state; the byte counts that the docker CLI
// draws as bars are left out.

// client is the chapter's registry client: loopback registries are
// insecure, certificates from /etc/berth/certs.d and /etc/docker/certs.d;
// --verbose prints each HTTP exchange on stderr.
func client(verbose bool, stdio namespace.Stdio) (*registry.Client, error) {
	cfg := registry.Config{UserAgent: "berth-06-images"}
	if verbose {
		cfg.Verbose = stdio.Err
	}
	return registry.New(cfg)
}

// interruptible is a context that SIGINT and SIGTERM cancel: a pull cut
// short leaves nothing half-written, whatever the moment.
func interruptible() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

func printProgress(w io.Writer) registry.ProgressFunc {
	return func(p registry.Progress) {
		if w == nil || p.Aux != nil || p.Total > 0 {
			return
		}
		if p.ID != "" {
			fmt.Fprintf(w, "%s: %s\n", p.ID, p.Status)
			return
		}
		fmt.Fprintln(w, p.Status)
	}
}

func pull(args []string, stdio namespace.Stdio) (int, error) {
	f := newFlags("pull")
	var platform string
	var all, verbose bool
	f.StringVar(&platform, "platform", "", "os/arch[/variant] of the image to pick in a multi-platform index (default: this machine's)")
	f.BoolVar(&all, "a", false, "pull every tag of the repository")
	f.BoolVar(&all, "all-tags", false, "pull every tag of the repository")
	f.BoolVar(&verbose, "verbose", false, "print each HTTP request and response on stderr")
	if err := f.parse(args, 1, 1, "[--root DIR] [--platform P] [-a|--all-tags] [--verbose] REF"); err != nil {
		return 0, err
	}
	c, err := client(verbose, stdio)
	if err != nil {
		return 0, err
	}
	s, err := f.store()
	if err != nil {
		return 0, err
	}
	ref := f.Arg(0)
	if !all && defaultTag(ref) {
		fmt.Fprintln(stdio.Out, "Using default tag: latest")
	}
	ctx, cancel := interruptible()
	defer cancel()
	res, err := c.Pull(ctx, s, ref, registry.PullOptions{Platform: platform, AllTags: all, Progress: printProgress(stdio.Out)})
	if err != nil {
		return 0, err
	}
	if !all {
		fmt.Fprintln(stdio.Out, canonical(res[0].Ref))
	}
	return 0, nil
}

// defaultTag says whether ref names neither a tag nor a digest, so that
// :latest is what the pull or push takes (Docker's parser decides: a
// colon may be a registry's port).
func defaultTag(ref string) bool {
	named, err := reference.ParseNormalizedNamed(ref)
	return err == nil && reference.IsNameOnly(named)
}

// canonical is what docker pull prints last: the full name
// (docker.io/library/busybox:latest).
func canonical(familiar string) string {
	if named, err := reference.ParseNormalizedNamed(familiar); err == nil {
		return named.String()
	}
	return familiar
}

func push(args []string, stdio namespace.Stdio) (int, error) {
	f := newFlags("push")
	var all, verbose bool
	f.BoolVar(&all, "a", false, "push every tag of the repository")
	f.BoolVar(&all, "all-tags", false, "push every tag of the repository")
	f.BoolVar(&verbose, "verbose", false, "print each HTTP request and response on stderr")
	if err := f.parse(args, 1, 1, "[--root DIR] [-a|--all-tags] [--verbose] NAME[:TAG]"); err != nil {
		return 0, err
	}
	c, err := client(verbose, stdio)
	if err != nil {
		return 0, err
	}
	s, err := f.store()
	if err != nil {
		return 0, err
	}
	ref := f.Arg(0)
	if !all && defaultTag(ref) {
		fmt.Fprintln(stdio.Out, "Using default tag: latest")
	}
	ctx, cancel := interruptible()
	defer cancel()
	_, err = c.Push(ctx, s, ref, registry.PushOptions{AllTags: all, Progress: printProgress(stdio.Out)})
	return 0, err
}

// configKey is the name docker's config file gives a registry: Docker
// Hub's old URL for the hub, else host[:port].
func configKey(server string) string {
	host := registry.ServerHost(server)
	if host == registry.ServerHost("") {
		return registry.HubServer
	}
	return host
}

// login checks the credentials with the registry and keeps them in
// docker's config file (~/.docker/config.json, or $DOCKER_CONFIG), or
// in the credential helper it names, exactly as `docker login` does:
// the chapter, berth and docker share one login.
func login(args []string, stdio namespace.Stdio) (int, error) {
	f := newFlags("login")
	var user, pass string
	var fromStdin, verbose bool
	f.StringVar(&user, "u", "", "user name")
	f.StringVar(&user, "username", "", "user name")
	f.StringVar(&pass, "p", "", "password (visible to other users in ps: prefer --password-stdin)")
	f.StringVar(&pass, "password", "", "password")
	f.BoolVar(&fromStdin, "password-stdin", false, "read the password from stdin")
	f.BoolVar(&verbose, "verbose", false, "print each HTTP request and response on stderr")
	if err := f.parse(args, 0, 1, "[-u USER] [-p PASS | --password-stdin] [SERVER]"); err != nil {
		return 0, err
	}
	if fromStdin {
		if pass != "" {
			return 0, errors.New("--password and --password-stdin are mutually exclusive")
		}
		if stdio.In == nil {
			return 0, errors.New("--password-stdin: no stdin")
		}
		line, err := bufio.NewReader(stdio.In).ReadString('\n')
		if err != nil && err != io.EOF {
			return 0, fmt.Errorf("reading the password: %w", err)
		}
		pass = strings.TrimRight(line, "\r\n")
	}
	if user == "" || pass == "" {
		return 0, errors.New("login needs -u USER and a password (-p PASS or --password-stdin)")
	}
	c, err := client(verbose, stdio)
	if err != nil {
		return 0, err
	}
	ctx, cancel := interruptible()
	defer cancel()
	server := f.Arg(0)
	token, err := c.Login(ctx, registry.AuthConfig{Username: user, Password: pass, ServerAddress: server})
	if err != nil {
		return 0, err
	}
	cf, err := loadDockerConfig()
	if err != nil {
		return 0, err
	}
	key := configKey(server)
	creds := types.AuthConfig{Username: user, Password: pass, ServerAddress: key}
	if token != "" {
		// A registry that issues identity tokens gets the token kept,
		// not the password.
		creds.Password, creds.IdentityToken = "", token
	}
	if err := cf.GetCredentialsStore(key).Store(creds); err != nil {
		return 0, fmt.Errorf("saving the credentials for %s in %s: %w", key, cf.Filename, err)
	}
	fmt.Fprintln(stdio.Out, "Login Succeeded")
	return 0, nil
}

// loadDockerConfig reads docker's config file: in $DOCKER_CONFIG if set
// (read on every call, as the registry client's keychain does), else in
// ~/.docker.
func loadDockerConfig() (*configfile.ConfigFile, error) {
	dir := os.Getenv("DOCKER_CONFIG")
	if dir == "" {
		dir = dockerconfig.Dir()
	}
	cf, err := dockerconfig.Load(dir)
	if err != nil {
		return nil, fmt.Errorf("docker config in %s: %w", dir, err)
	}
	return cf, nil
}

func logout(args []string, stdio namespace.Stdio) (int, error) {
	f := newFlags("logout")
	if err := f.parse(args, 0, 1, "[SERVER]"); err != nil {
		return 0, err
	}
	cf, err := loadDockerConfig()
	if err != nil {
		return 0, err
	}
	key := configKey(f.Arg(0))
	if _, ok := cf.AuthConfigs[key]; !ok && cf.CredentialsStore == "" && cf.CredentialHelpers[key] == "" {
		fmt.Fprintf(stdio.Out, "Not logged in to %s\n", key)
		return 0, nil
	}
	fmt.Fprintf(stdio.Out, "Removing login credentials for %s\n", key)
	if err := cf.GetCredentialsStore(key).Erase(key); err != nil {
		return 0, fmt.Errorf("removing the credentials for %s: %w", key, err)
	}
	return 0, nil
}

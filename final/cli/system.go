package cli

import (
	"bytes"
	"fmt"
	"runtime"
	"sort"
	"strings"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/system"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

// clientVersion is the Client half of `berth version`.
type clientVersion struct {
	Version           string
	APIVersion        string `json:"ApiVersion"`
	DefaultAPIVersion string `json:"DefaultAPIVersion,omitempty"`
	GitCommit         string
	GoVersion         string
	Os                string
	Arch              string
	Host              string
}

// versionInfo is what `berth version --format` sees: .Client and .Server.
type versionInfo struct {
	Client clientVersion
	Server *client.ServerVersionResult
}

const versionTemplate = `Client:
 Version:           {{.Client.Version}}
 API version:       {{.Client.APIVersion}}{{if and .Client.DefaultAPIVersion (ne .Client.APIVersion .Client.DefaultAPIVersion)}} (downgraded from {{.Client.DefaultAPIVersion}}){{end}}
 Go version:        {{.Client.GoVersion}}
 Git commit:        {{.Client.GitCommit}}
 OS/Arch:           {{.Client.Os}}/{{.Client.Arch}}
 Host:              {{.Client.Host}}
{{- if .Server}}

Server:{{with .Server.Platform.Name}} {{.}}{{end}}
{{- range .Server.Components}}
 {{.Name}}:
  Version:          {{.Version}}
{{- if eq .Name "Engine"}}
  API version:      {{index .Details "ApiVersion"}} (minimum version {{index .Details "MinAPIVersion"}})
  Go version:       {{index .Details "GoVersion"}}
  Git commit:       {{index .Details "GitCommit"}}
  OS/Arch:          {{index .Details "Os"}}/{{index .Details "Arch"}}
{{- end}}
{{- else}}
 Version:           {{.Server.Version}}
 API version:       {{.Server.APIVersion}} (minimum version {{.Server.MinAPIVersion}})
 OS/Arch:           {{.Server.Os}}/{{.Server.Arch}}
{{- end}}
{{- end}}
`

func newVersionCommand(c *CLI) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "version [OPTIONS]",
		Short: "Show the berth version information",
		Long:  "Show the versions of berth and of the daemon it talks to, and the API version they agreed on.",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			info := versionInfo{Client: clientVersion{
				Version:           Version,
				APIVersion:        client.MaxAPIVersion,
				DefaultAPIVersion: client.MaxAPIVersion,
				GitCommit:         GitCommit,
				GoVersion:         runtime.Version(),
				Os:                runtime.GOOS,
				Arch:              runtime.GOARCH,
				Host:              c.Host(),
			}}
			cl, err := c.Client()
			var serverErr error
			if err == nil {
				sv, err := cl.ServerVersion(cmd.Context(), client.ServerVersionOptions{})
				if err == nil {
					info.Server = &sv
				}
				serverErr = err
				info.Client.APIVersion = cl.ClientVersion()
			} else {
				serverErr = err
			}
			if format == "json" {
				format = "{{json .}}"
			}
			if format == "" {
				format = versionTemplate
			}
			tmpl, err := parseTemplate(format, templateFuncs)
			if err != nil {
				return templateError(err)
			}
			var out bytes.Buffer
			if err := tmpl.Execute(&out, info); err != nil {
				return fmt.Errorf("failed to execute template: %w", err)
			}
			if !strings.HasSuffix(out.String(), "\n") {
				out.WriteString("\n")
			}
			if _, err := out.WriteTo(c.Out); err != nil {
				return err
			}
			return serverErr
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", formatHelp)
	return cmd
}

func newInfoCommand(c *CLI) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "info [OPTIONS]",
		Short: "Display system-wide information",
		Long:  "Display what the daemon reports about itself and its host: containers and images, storage, cgroups, kernel and resources.",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.Client()
			if err != nil {
				return err
			}
			res, err := cl.Info(cmd.Context(), client.InfoOptions{})
			if err != nil {
				return err
			}
			if format != "" {
				if format == "json" {
					format = "{{json .}}"
				}
				tmpl, err := parseTemplate(format, templateFuncs)
				if err != nil {
					return err
				}
				var out bytes.Buffer
				if err := tmpl.Execute(&out, res.Info); err != nil {
					return fmt.Errorf("failed to execute template: %w", err)
				}
				out.WriteString("\n")
				_, err = out.WriteTo(c.Out)
				return err
			}
			printInfo(c, res.Info)
			return nil
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", formatHelp)
	return cmd
}

func printInfo(c *CLI, info system.Info) {
	w := c.Out
	fmt.Fprintln(w, "Client:")
	fmt.Fprintf(w, " Version:    %s\n", Version)
	fmt.Fprintf(w, " Host:       %s\n", c.Host())
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Server:")
	fmt.Fprintf(w, " Containers: %d\n", info.Containers)
	fmt.Fprintf(w, "  Running: %d\n", info.ContainersRunning)
	fmt.Fprintf(w, "  Paused: %d\n", info.ContainersPaused)
	fmt.Fprintf(w, "  Stopped: %d\n", info.ContainersStopped)
	fmt.Fprintf(w, " Images: %d\n", info.Images)
	fmt.Fprintf(w, " Server Version: %s\n", info.ServerVersion)
	fmt.Fprintf(w, " Storage Driver: %s\n", info.Driver)
	for _, kv := range info.DriverStatus {
		fmt.Fprintf(w, "  %s: %s\n", kv[0], kv[1])
	}
	fmt.Fprintf(w, " Logging Driver: %s\n", info.LoggingDriver)
	fmt.Fprintf(w, " Cgroup Driver: %s\n", info.CgroupDriver)
	if info.CgroupVersion != "" {
		fmt.Fprintf(w, " Cgroup Version: %s\n", info.CgroupVersion)
	}
	if len(info.Runtimes) > 0 {
		var names []string
		for name := range info.Runtimes {
			names = append(names, name)
		}
		fmt.Fprintf(w, " Runtimes: %s\n", strings.Join(names, " "))
		fmt.Fprintf(w, " Default Runtime: %s\n", info.DefaultRuntime)
	}
	if info.InitBinary != "" {
		fmt.Fprintf(w, " Init Binary: %s\n", info.InitBinary)
	}
	if len(info.SecurityOptions) > 0 {
		fmt.Fprintln(w, " Security Options:")
		for _, o := range info.SecurityOptions {
			fmt.Fprintf(w, "  %s\n", o)
		}
	}
	fmt.Fprintf(w, " Kernel Version: %s\n", info.KernelVersion)
	fmt.Fprintf(w, " Operating System: %s\n", info.OperatingSystem)
	fmt.Fprintf(w, " OSType: %s\n", info.OSType)
	fmt.Fprintf(w, " Architecture: %s\n", info.Architecture)
	fmt.Fprintf(w, " CPUs: %d\n", info.NCPU)
	fmt.Fprintf(w, " Total Memory: %s\n", units.BytesSize(float64(info.MemTotal)))
	fmt.Fprintf(w, " Name: %s\n", info.Name)
	fmt.Fprintf(w, " ID: %s\n", info.ID)
	fmt.Fprintf(w, " Docker Root Dir: %s\n", info.DockerRootDir)
	fmt.Fprintf(w, " Debug Mode: %v\n", info.Debug)
	if info.IndexServerAddress != "" {
		fmt.Fprintf(w, " Registry: %s\n", info.IndexServerAddress)
	}
	if rc := info.RegistryConfig; rc != nil {
		// docker's order: the registries named insecure, then the
		// insecure CIDRs; then the mirrors, if any.
		var insecure []string
		for name, idx := range rc.IndexConfigs {
			if idx != nil && !idx.Secure {
				insecure = append(insecure, name)
			}
		}
		sort.Strings(insecure)
		for _, p := range rc.InsecureRegistryCIDRs {
			insecure = append(insecure, p.String())
		}
		if len(insecure) > 0 {
			fmt.Fprintln(w, " Insecure Registries:")
			for _, r := range insecure {
				fmt.Fprintf(w, "  %s\n", r)
			}
		}
		if len(rc.Mirrors) > 0 {
			fmt.Fprintln(w, " Registry Mirrors:")
			for _, m := range rc.Mirrors {
				fmt.Fprintf(w, "  %s\n", m)
			}
		}
	}
	fmt.Fprintf(w, " Live Restore Enabled: %v\n", info.LiveRestoreEnabled)
	for _, warning := range info.Warnings {
		fmt.Fprintln(c.Err, warning)
	}
}

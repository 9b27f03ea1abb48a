package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"sort"
	"strings"
	"text/tabwriter"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

func newInspectCommand(c *CLI) *cobra.Command {
	var format, kind string
	var size bool
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] NAME|ID [NAME|ID...]",
		Short: "Return low-level information on berth objects",
		Long: `Print what the daemon knows of containers, images, networks or volumes,
as a JSON array, or through a Go template (-f '{{.State.Status}}'). Without
--type each name is looked up as a container, then an image, a network, a
volume.`,
		Args: requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var lookups []objectLookup
			switch kind {
			case "":
				lookups = []objectLookup{c.inspectContainer(size), c.inspectImage, c.inspectNetwork, c.inspectVolume}
			case "container":
				lookups = []objectLookup{c.inspectContainer(size)}
			case "image":
				lookups = []objectLookup{c.inspectImage}
			case "network":
				lookups = []objectLookup{c.inspectNetwork}
			case "volume":
				lookups = []objectLookup{c.inspectVolume}
			default:
				return fmt.Errorf("%q is not a valid value for --type", kind)
			}
			return c.inspectObjects(cmd.Context(), args, format, "object", lookups)
		},
	}
	fs := cmd.Flags()
	fs.StringVarP(&format, "format", "f", "", formatHelp)
	fs.BoolVarP(&size, "size", "s", false, "Display total file sizes if the type is container")
	fs.StringVar(&kind, "type", "", "Only inspect objects of the given type (container, image, network or volume)")
	return cmd
}

// formatHelp is docker's help for the --format of the commands that
// print JSON or a Go template.
const formatHelp = "Format output using a custom template:\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template"

// tableFormatHelp is docker's help for the --format of the commands that
// print a table by default (ls, ps, stats, history).
const tableFormatHelp = "Format output using a custom template:\n'table':            Print output in table format with column headers (default)\n'table TEMPLATE':   Print output in table format using the given Go template\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template"

// newKindInspectCommand is the inspect of one kind of object (docker
// image|network|volume inspect): inspect's lookup for that kind alone.
// kind names the object in the not-found message ("No such volume: x");
// "" leaves the daemon's own message.
func newKindInspectCommand(c *CLI, use, short, long, kind string, lookup objectLookup) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Long:  long,
		Args:  requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.inspectObjects(cmd.Context(), args, format, kind, []objectLookup{lookup})
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", formatHelp)
	return cmd
}

// objectLookup fetches the raw JSON of one object, or an error that
// cerrdefs.IsNotFound recognises.
type objectLookup func(ctx context.Context, cl *client.Client, name string) (json.RawMessage, error)

func (c *CLI) inspectContainer(size bool) objectLookup {
	return func(ctx context.Context, cl *client.Client, name string) (json.RawMessage, error) {
		res, err := cl.ContainerInspect(ctx, name, client.ContainerInspectOptions{Size: size})
		return res.Raw, err
	}
}

func (c *CLI) inspectImage(ctx context.Context, cl *client.Client, name string) (json.RawMessage, error) {
	var raw bytes.Buffer
	if _, err := cl.ImageInspect(ctx, name, client.ImageInspectWithRawResponse(&raw)); err != nil {
		return nil, err
	}
	return raw.Bytes(), nil
}

func (c *CLI) inspectNetwork(ctx context.Context, cl *client.Client, name string) (json.RawMessage, error) {
	res, err := cl.NetworkInspect(ctx, name, client.NetworkInspectOptions{})
	return res.Raw, err
}

// inspectObjects prints each object found; a name found nowhere is
// reported ("No such object: x", or the daemon's own words when what is
// empty) after the others are printed, and makes the status 1.
func (c *CLI) inspectObjects(ctx context.Context, names []string, format, what string, lookups []objectLookup) error {
	cl, err := c.Client()
	if err != nil {
		return err
	}
	var tmpl interface {
		Execute(io.Writer, any) error
	}
	if format != "" && format != "json" {
		// A missing key is an error, not "<no value>", as in docker.
		t, err := parseTemplateOpts(format, templateFuncs, "missingkey=error")
		if err != nil {
			return templateError(err)
		}
		tmpl = t
	}
	var found []json.RawMessage
	var errs []error
	for _, name := range names {
		raw, err := lookupObject(ctx, cl, name, lookups)
		if err != nil {
			if cerrdefs.IsNotFound(err) && what != "" {
				err = fmt.Errorf("Error: No such %s: %s", what, name)
			}
			errs = append(errs, err)
			continue
		}
		found = append(found, raw)
	}

	if tmpl != nil {
		for _, raw := range found {
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.UseNumber() // so that 33554432 prints as such, not as 3.3554432e+07
			var obj any
			if err := dec.Decode(&obj); err != nil {
				return fmt.Errorf("decoding the daemon's answer: %w", err)
			}
			var out bytes.Buffer
			if err := tmpl.Execute(&out, obj); err != nil {
				return fmt.Errorf("template parsing error: %w", err)
			}
			out.WriteString("\n")
			if _, err := c.Out.Write(out.Bytes()); err != nil {
				return err
			}
		}
	} else {
		if err := writeJSONArray(c.Out, found); err != nil {
			return err
		}
	}
	return errorList(errs)
}

func lookupObject(ctx context.Context, cl *client.Client, name string, lookups []objectLookup) (json.RawMessage, error) {
	var err error
	for _, lookup := range lookups {
		var raw json.RawMessage
		raw, err = lookup(ctx, cl, name)
		if err == nil {
			return raw, nil
		}
		if !cerrdefs.IsNotFound(err) {
			return nil, err
		}
	}
	return nil, err
}

// writeJSONArray prints raw objects as docker inspect does: one JSON
// array indented by four spaces.
func writeJSONArray(w io.Writer, elems []json.RawMessage) error {
	if len(elems) == 0 {
		_, err := io.WriteString(w, "[]\n")
		return err
	}
	parts := make([][]byte, len(elems))
	for i, e := range elems {
		parts[i] = bytes.TrimSpace(e)
	}
	joined := append(append([]byte("["), bytes.Join(parts, []byte(","))...), ']')
	var out bytes.Buffer
	if err := json.Indent(&out, joined, "", "    "); err != nil {
		return fmt.Errorf("the daemon's answer is not JSON: %w", err)
	}
	out.WriteString("\n")
	_, err := out.WriteTo(w)
	return err
}

func newPortCommand(c *CLI) *cobra.Command {
	return &cobra.Command{
		Use:   "port CONTAINER [PRIVATE_PORT[/PROTO]]",
		Short: "List port mappings or a specific mapping for the container",
		Long: `List the ports a container publishes on the host ("80/tcp -> 0.0.0.0:8080"),
or where one private port is published.`,
		Args: requiresRangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.Client()
			if err != nil {
				return err
			}
			res, err := cl.ContainerInspect(cmd.Context(), args[0], client.ContainerInspectOptions{})
			if err != nil {
				return err
			}
			var ports network.PortMap
			if res.Container.NetworkSettings != nil {
				ports = res.Container.NetworkSettings.Ports
			}
			return printPorts(c.Out, args[0], ports, args[1:])
		},
	}
}

func printPorts(w io.Writer, name string, ports network.PortMap, which []string) error {
	if len(which) == 1 {
		port, err := network.ParsePort(which[0])
		if err != nil {
			return fmt.Errorf("invalid port %q: %w", which[0], err)
		}
		bindings := ports[port]
		if len(bindings) == 0 {
			return fmt.Errorf("Error: No public port '%s' published for %s", port, name)
		}
		for _, b := range bindings {
			fmt.Fprintln(w, hostPort(b))
		}
		return nil
	}
	keys := make([]network.Port, 0, len(ports))
	for p := range ports {
		keys = append(keys, p)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].Num() != keys[j].Num() {
			return keys[i].Num() < keys[j].Num()
		}
		return keys[i].Proto() < keys[j].Proto()
	})
	for _, p := range keys {
		for _, b := range ports[p] {
			fmt.Fprintf(w, "%s -> %s\n", p, hostPort(b))
		}
	}
	return nil
}

func hostPort(b network.PortBinding) string {
	ip := ""
	if b.HostIP.IsValid() {
		ip = b.HostIP.String()
	}
	return net.JoinHostPort(ip, b.HostPort)
}

func newTopCommand(c *CLI) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "top CONTAINER [ps OPTIONS]",
		Short: "Display the running processes of a container",
		Long: `Display the processes running in a container, as the host's ps sees them
(host PIDs, not the container's). Arguments after the container name are
passed to ps (default -ef).`,
		Args: requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.Client()
			if err != nil {
				return err
			}
			res, err := cl.ContainerTop(cmd.Context(), args[0], client.ContainerTopOptions{Arguments: args[1:]})
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(c.Out, 20, 1, 3, ' ', 0)
			fmt.Fprintln(tw, strings.Join(res.Titles, "\t"))
			for _, p := range res.Processes {
				fmt.Fprintln(tw, strings.Join(p, "\t"))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().SetInterspersed(false)
	return cmd
}

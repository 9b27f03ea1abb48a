package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/template"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

// events: one streaming API call (GET /events). The client library turns
// --since and --until ("10m", an RFC 3339 date, a Unix time) into Unix
// seconds before sending them, as docker's does; the daemon answers with
// the events it kept from then, and, unless --until has passed, the live
// ones after them.

func newEventsCommand(c *CLI) *cobra.Command {
	var (
		opts    client.EventsListOptions
		filters listValue
		format  string
	)
	cmd := &cobra.Command{
		Use:   "events [OPTIONS]",
		Short: "Get real time events from the server",
		Long: `Print what the daemon does as it does it: containers created, started,
dying (with their exit code), killed, removed; execs; images tagged,
loaded, removed; networks and volumes created, connected, mounted,
removed. One line per event, until interrupted.

--since shows the events the daemon kept from that moment on first (it
keeps the last 256, in memory: none from before it started); --until
ends the stream at that moment. Both take a Unix time, a date
("2024-05-01T10:00:00"), or a duration back from now ("10m").

--filter KEY=VALUE narrows them, as docker's: type (container, image,
network, volume), event (start, die, ...), container, image, network,
volume (a name or ID), label (KEY or KEY=VALUE). Several values of one
key are alternatives; different keys must all match; several labels
must all be there.

--format takes a Go template over .Type .Action .Actor.ID
.Actor.Attributes .Scope .Time .TimeNano, or "json".`,
		Example: `  berth events
  berth events --since 10m --filter type=container --filter event=die
  berth events --filter container=web --format '{{.Action}} {{index .Actor.Attributes "exitCode"}}'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var tmpl *template.Template
			if format != "" && format != "json" {
				var err error
				if tmpl, err = parseTemplate(format, templateFuncs); err != nil {
					return err
				}
			}
			f, err := parseFilters(filters)
			if err != nil {
				return err
			}
			opts.Filters = f
			cl, err := c.Client()
			if err != nil {
				return err
			}
			res := cl.Events(cmd.Context(), opts)
			for {
				select {
				case m := <-res.Messages:
					if err := printEvent(c.Out, m, format, tmpl); err != nil {
						return err
					}
				case err := <-res.Err:
					if errors.Is(err, io.EOF) || cmd.Context().Err() != nil {
						return nil // --until reached, or interrupted
					}
					return err
				}
			}
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&opts.Since, "since", "", "Show all events created since timestamp")
	fs.StringVar(&opts.Until, "until", "", "Stream events until this timestamp")
	fs.VarP(&filters, "filter", "f", "Filter output based on conditions provided")
	fs.StringVar(&format, "format", "", formatHelp)
	return cmd
}

// printEvent writes one event: with the template, as JSON, or in
// docker's own line, "TIME TYPE ACTION ID (k=v, ...)", the attributes
// sorted by key.
func printEvent(out io.Writer, m events.Message, format string, tmpl *template.Template) error {
	switch {
	case format == "json":
		b, err := json.Marshal(m)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(out, "%s\n", b)
		return err
	case tmpl != nil:
		var b strings.Builder
		if err := tmpl.Execute(&b, m); err != nil {
			return fmt.Errorf("template: %w", err)
		}
		_, err := fmt.Fprintln(out, b.String())
		return err
	}
	var b strings.Builder
	if m.TimeNano != 0 {
		b.WriteString(time.Unix(0, m.TimeNano).Format(rfc3339NanoFixed) + " ")
	} else if m.Time != 0 {
		b.WriteString(time.Unix(m.Time, 0).Format(rfc3339NanoFixed) + " ")
	}
	fmt.Fprintf(&b, "%s %s %s", m.Type, m.Action, m.Actor.ID)
	if len(m.Actor.Attributes) > 0 {
		var attrs []string
		for _, k := range slices.Sorted(maps.Keys(m.Actor.Attributes)) {
			attrs = append(attrs, k+"="+m.Actor.Attributes[k])
		}
		fmt.Fprintf(&b, " (%s)", strings.Join(attrs, ", "))
	}
	_, err := fmt.Fprintln(out, b.String())
	return err
}

// rfc3339NanoFixed is docker's time format in events and logs: RFC 3339
// with always nine digits of nanoseconds, so that the lines align.
const rfc3339NanoFixed = "2006-01-02T15:04:05.000000000Z07:00"

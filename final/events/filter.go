package events

import (
	"slices"
	"strings"

	"github.com/moby/moby/api/types/events"

	"github.com/berth-project/berth/06-images/image"
	"github.com/berth-project/berth/final/filters"
)

// FilterKeys are the filters GET /events takes. dockerd also knows
// plugin, service, node, secret and config, objects berth does not
// have; a filter on them would silently match nothing, so berth refuses
// them (400) like any key it does not know.
var FilterKeys = []string{"type", "event", "container", "image", "label", "network", "volume", "daemon", "scope"}

// Filter is a parsed filters argument of GET /events. A nil *Filter
// takes every event.
type Filter struct {
	args filters.Args
	// fuzzyEvent: an event filter names an action that carries its
	// details after a colon ("exec_start: sh -c ..."); then every event
	// value matches as a prefix, as in dockerd.
	fuzzyEvent bool
}

// NewFilter checks args' keys and returns the filter.
func NewFilter(args filters.Args) (*Filter, error) {
	if err := args.Check("events", FilterKeys...); err != nil {
		return nil, err
	}
	f := &Filter{args: args}
	for _, v := range args["event"] {
		switch events.Action(v) {
		case events.ActionHealthStatus, events.ActionExecCreate, events.ActionExecStart:
			f.fuzzyEvent = true
		}
	}
	return f, nil
}

// Match says whether f takes m. Different keys combine with AND; the
// values of one key with OR, except label, whose values must all hold
// (final/filters). container, network, volume and daemon match the
// actor's ID or its name attribute by prefix, whatever the event's
// type: `--filter container=web` also keeps the network events whose
// actor is called web (the name of a network, say), exactly as dockerd.
// image matches an image event's ID or name, a container event's image
// attribute, exactly or without the tag.
func (f *Filter) Match(m Message) bool {
	if f == nil {
		return true
	}
	a := f.args
	action := string(m.Action)
	return a.Any("event", func(v string) bool { return action == v || (f.fuzzyEvent && strings.HasPrefix(action, v)) }) &&
		a.Any("type", func(v string) bool { return string(m.Type) == v }) &&
		a.Any("scope", func(v string) bool { return m.Scope == v }) &&
		f.byName("daemon", m) && f.byName("container", m) && f.byName("network", m) && f.byName("volume", m) &&
		f.image(m) &&
		a.Labels(m.Actor.Attributes)
}

// byName: the actor's ID or name attribute is, or starts with, a value
// of key.
func (f *Filter) byName(key string, m Message) bool {
	name := m.Actor.Attributes["name"]
	return f.args.Any(key, func(v string) bool {
		return strings.HasPrefix(m.Actor.ID, v) || strings.HasPrefix(name, v)
	})
}

func (f *Filter) image(m Message) bool {
	if !f.args.Has("image") {
		return true // no reference to parse for every event of a subscriber without one
	}
	attr := "image"
	if m.Type == events.ImageEventType {
		attr = "name"
	}
	name := m.Actor.Attributes[attr]
	candidates := []string{m.Actor.ID, name, repository(m.Actor.ID), repository(name)}
	return f.args.Any("image", func(v string) bool { return slices.Contains(candidates, v) })
}

// repository is a reference without its tag, in Docker's short form
// ("docker.io/library/busybox:1.36" is "busybox"); what is no reference
// stays as it is.
func repository(s string) string {
	if s == "" {
		return ""
	}
	ref, err := image.ParseReference(s)
	if err != nil {
		return s
	}
	return ref.Name
}

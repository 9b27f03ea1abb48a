package apitest

import (
	"context"
	"maps"
	"time"

	moby "github.com/moby/moby/api/types/events"

	"github.com/berth-project/berth/final/events"
)

// Events subscribes to the fake's events: its containers' create,
// start, die (with exitCode) and destroy, with the attributes the daemon
// gives them (image as the client named it, name, labels).
func (f *Fake) Events(_ context.Context, since, until time.Time, filter *events.Filter) (*events.Subscription, error) {
	return f.events.Subscribe(since, until, filter), nil
}

// emit reports action on c. Call with f.mu held.
func (f *Fake) emit(c *ctr, action moby.Action, extra map[string]string) {
	attrs := maps.Clone(c.config.Labels)
	if attrs == nil {
		attrs = map[string]string{}
	}
	maps.Copy(attrs, extra)
	attrs["image"], attrs["name"] = c.imageRef, c.name
	f.events.Log(moby.ContainerEventType, action, c.id, attrs)
}

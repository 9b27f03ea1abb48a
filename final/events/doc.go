// Package events is berthd's event bus: what `docker events` shows, and
// what Compose watches to learn that a container died.
//
// # Why a package with state of its own
//
// Events are the one part of the engine that is about time rather than
// objects: a client asks "what happened since 10 minutes ago, and then
// everything that happens until I hang up". So the daemon keeps the last
// events in memory (a ring: --since works after the fact, for a while),
// and hands each new one to every client listening. Nothing here is on
// disk, as in dockerd: events before the daemon started are gone.
//
//	the daemon's handlers
//	(create, start, die, tag, ...)
//	      │ Log / Publish                  GET /events, one per client
//	      ▼                                ┌─▶ buffer (1024) ─▶ C ─▶ docker events
//	┌───────────────────────────┐ filter   │
//	│ ring: the last 256 events │─────────▶├─▶ buffer (1024) ─▶ C ─▶ compose
//	└───────────────────────────┘ match    │
//	      │                                └─▶ buffer full: ended, ErrTooSlow
//	      └─▶ Subscribe(since, until, filter): Past from the ring, then C
//
// # Ordering without gaps
//
// Publish appends to the ring and offers the event to the subscribers
// under one lock, and Subscribe copies the ring and registers under the
// same lock. So a subscriber sees every event exactly once: those before
// it subscribed in Past, those after on C, none twice, none lost in
// between. Events are stamped under that lock too, so times never go
// back along the ring even if the clock does.
//
// # Slow subscribers
//
// A publisher is a handler in the middle of `docker run`: it must never
// wait for a client that reads slowly (or not at all, a stopped
// `docker events | less`). Each subscriber has a buffer; when it is
// full, Publish ends that subscription (C closes, Err is ErrTooSlow)
// instead of waiting, and the API server cuts the client's connection:
// the client sees a broken stream, not the clean end of an --until, and
// can subscribe again with --since, which the ring answers as far back
// as it goes. dockerd does something softer and worse: each publish
// waits up to 100 ms for each full subscriber, then skips the event for
// it, silently (moby's pubsub with a timeout). Its client never learns
// that it missed events, and every event costs the daemon 100 ms for as
// long as one client is stuck.
//
// # since and until
//
// With neither, a subscriber gets only new events, as dockerd. A since
// gives the ring's events from that moment; an until ends the stream at
// that moment (at once, after the past events, if it has passed). The
// docker CLI sends both as Unix seconds with a fraction, having
// converted its "10m" or RFC 3339 itself; the API server also takes
// those forms as they are, for clients that send what their user typed.
//
// # Filters
//
// Filter applies dockerd's semantics (daemon/events/filter.go), keys ANDed:
//
//	type       the event's type, exactly             type=container
//	event      the action; exec_create, exec_start   event=die
//	           and health_status match by prefix
//	container  actor ID or name attribute, by prefix container=web
//	network    (the same, on any event's actor)      network=front
//	volume     (the same)                            volume=data
//	daemon     (the same)
//	image      image event's ID or name, container   image=busybox
//	           event's image attribute, with or
//	           without the tag
//	label      actor attributes, all must hold       label=com.docker.compose.project=shop
//	scope      "local" (berth has no swarm)
//
// Note that container= applies to every event, not only container
// events: dockerd's filter compares any event's actor with it. A client
// that wants one container's events and its networks' must ask twice.
//
// # Tutorial
//
//	// moby is github.com/moby/moby/api/types/events
//	bus := events.New(events.Options{})
//	f, _ := events.NewFilter(filters.Args{"type": {"container"}})
//	sub := bus.Subscribe(time.Now().Add(-time.Minute), time.Time{}, f)
//	defer sub.Close()
//	bus.Log(moby.ContainerEventType, moby.ActionStart, id, map[string]string{"name": "web", "image": "busybox"})
//	for _, m := range sub.Past { ... }
//	for m := range sub.C { ... }   // until Close, until, or ErrTooSlow
package events

package events

import (
	"errors"
	"sync"
	"time"

	"github.com/moby/moby/api/types/events"
)

// Message is one event as GET /events sends it: Docker's events.Message
// and, for container and image events, the fields that API 1.21 had
// before Type/Action/Actor (status, id, from). The docker CLI 20.10's
// default format and python docker-compose 1.29 still read those, so
// dockerd still fills them, and so does berth.
type Message struct {
	Status string `json:"status,omitempty"`
	ID     string `json:"id,omitempty"`
	From   string `json:"from,omitempty"`
	events.Message
}

// Sizes of dockerd's (daemon/events): the ring keeps the last 256 events,
// and each subscriber may fall 1024 events behind.
const (
	DefaultRing   = 256
	DefaultBuffer = 1024
)

// ErrTooSlow ends a subscription that fell a whole buffer behind: the
// publisher did not wait for it (see the package documentation).
var ErrTooSlow = errors.New("events: the subscriber fell too far behind and missed events; subscribe again with --since")

// ErrClosed ends the subscriptions of a Bus that was closed.
var ErrClosed = errors.New("events: the event bus was closed (daemon shutting down)")

// Bus keeps the last events in a ring and hands new ones to its
// subscribers. The zero Bus is not ready: use New.
type Bus struct {
	now func() time.Time

	mu     sync.Mutex
	ring   []Message // the last len(ring) events, oldest at next when full
	next   int       // where the next event goes
	full   bool      // the ring has wrapped
	subs   map[*Subscription]struct{}
	buffer int
	closed bool
	// last is the time of the newest event: a clock that steps back
	// (NTP) must not put an event before one already sent.
	last int64
}

// Options size a Bus; zero values mean the defaults.
type Options struct {
	Ring   int              // events kept for since (DefaultRing)
	Buffer int              // events a subscriber may lag (DefaultBuffer)
	Now    func() time.Time // the clock (time.Now); tests set it
}

// New returns a Bus.
func New(opts Options) *Bus {
	if opts.Ring <= 0 {
		opts.Ring = DefaultRing
	}
	if opts.Buffer <= 0 {
		opts.Buffer = DefaultBuffer
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Bus{
		now:    opts.Now,
		ring:   make([]Message, opts.Ring),
		subs:   map[*Subscription]struct{}{},
		buffer: opts.Buffer,
	}
}

// Log publishes an event of typ with action about actor (its ID and
// attributes), stamped now, in scope "local". It fills the legacy
// fields as dockerd does: container events get status, id and from (the
// image attribute), image events status and id.
func (b *Bus) Log(typ events.Type, action events.Action, id string, attributes map[string]string) {
	m := Message{Message: events.Message{
		Type:   typ,
		Action: action,
		Actor:  events.Actor{ID: id, Attributes: attributes},
		Scope:  "local",
	}}
	switch typ {
	case events.ContainerEventType:
		m.Status, m.ID, m.From = string(action), id, attributes["image"]
	case events.ImageEventType:
		m.Status, m.ID = string(action), id
	}
	b.Publish(m)
}

// Publish stamps m with the time (unless it has one) and hands it to the
// ring and to every subscriber whose filter takes it. It never waits for
// a subscriber: one whose buffer is full is ended with ErrTooSlow.
func (b *Bus) Publish(m Message) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	if m.TimeNano == 0 {
		now := b.now().UnixNano()
		if now < b.last {
			now = b.last
		}
		m.TimeNano = now
	}
	m.Time = m.TimeNano / int64(time.Second)
	if m.TimeNano > b.last {
		b.last = m.TimeNano
	}
	if m.Actor.Attributes == nil {
		m.Actor.Attributes = map[string]string{}
	}
	b.ring[b.next] = m
	b.next++
	if b.next == len(b.ring) {
		b.next, b.full = 0, true
	}
	for s := range b.subs {
		if s.bounded && m.TimeNano > s.until {
			b.endLocked(s, nil)
			continue
		}
		if !s.filter.Match(m) {
			continue
		}
		select {
		case s.ch <- m:
		default:
			b.endLocked(s, ErrTooSlow)
		}
	}
}

// past returns the ring's events from oldest to newest. Call with mu held.
func (b *Bus) past() []Message {
	if !b.full {
		return b.ring[:b.next]
	}
	return append(append([]Message(nil), b.ring[b.next:]...), b.ring[:b.next]...)
}

// Subscription is one reader of a Bus: the past events it asked for,
// then the live ones on C until it ends.
type Subscription struct {
	// Past are the ring's events between since and until that the
	// filter takes, oldest first.
	Past []Message
	// C delivers the live events; it is closed when the subscription
	// ends (Err says why).
	C <-chan Message

	b       *Bus
	ch      chan Message
	filter  *Filter
	until   int64 // UnixNano, if bounded
	bounded bool
	timer   *time.Timer
	err     error // under b.mu
	ended   bool  // under b.mu
}

// Subscribe returns the ring's events from since to until that f takes,
// and then the live ones. A zero since and until ask for live events
// only, as dockerd does. A non-zero until ends the subscription at that
// moment; one already past gives only Past (C is closed). f may be nil
// (every event).
func (b *Bus) Subscribe(since, until time.Time, f *Filter) *Subscription {
	s := &Subscription{b: b, ch: make(chan Message, b.buffer), filter: f}
	s.C = s.ch
	var sinceNano int64
	if !since.IsZero() {
		sinceNano = since.UnixNano()
	}
	if !until.IsZero() {
		s.until, s.bounded = until.UnixNano(), true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !since.IsZero() || !until.IsZero() {
		for _, m := range b.past() {
			if m.TimeNano < sinceNano || (s.bounded && m.TimeNano > s.until) {
				continue
			}
			if f.Match(m) {
				s.Past = append(s.Past, m)
			}
		}
	}
	now := b.now().UnixNano()
	switch {
	case b.closed:
		b.endLocked(s, ErrClosed)
	case s.bounded && s.until < now:
		b.endLocked(s, nil)
	default:
		b.subs[s] = struct{}{}
		if s.bounded {
			s.timer = time.AfterFunc(time.Duration(s.until-now), func() {
				b.mu.Lock()
				defer b.mu.Unlock()
				b.endLocked(s, nil)
			})
		}
	}
	return s
}

// endLocked ends s with err (nil: it reached until, or was closed by its
// reader). Call with b.mu held.
func (b *Bus) endLocked(s *Subscription, err error) {
	if s.ended {
		return
	}
	s.ended, s.err = true, err
	delete(b.subs, s)
	if s.timer != nil {
		s.timer.Stop()
	}
	close(s.ch)
}

// Err says why C was closed: nil when the subscription reached its until
// or was closed by its reader, ErrTooSlow, or ErrClosed. Call it after C
// is closed.
func (s *Subscription) Err() error {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	return s.err
}

// Close ends the subscription; C is closed. Closing twice is harmless.
func (s *Subscription) Close() {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	s.b.endLocked(s, nil)
}

// Subscribers counts the live subscriptions.
func (b *Bus) Subscribers() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.subs)
}

// Close ends every subscription with ErrClosed; later events are
// dropped, later subscriptions get only their past events.
func (b *Bus) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	for s := range b.subs {
		b.endLocked(s, ErrClosed)
	}
}

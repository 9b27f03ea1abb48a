package events

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	moby "github.com/moby/moby/api/types/events"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/final/filters"
)

// clock is a fake time: each reading moves it on by a second, so every
// event has its own whole second.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second)
	return c.t
}

func actions(ms []Message) []string {
	var out []string
	for _, m := range ms {
		out = append(out, string(m.Action))
	}
	return out
}

func TestLogFillsDockersFields(t *testing.T) {
	bus := New(Options{})
	sub := bus.Subscribe(time.Time{}, time.Time{}, nil)
	defer sub.Close()
	bus.Log(moby.ContainerEventType, moby.ActionStart, "c1", map[string]string{"image": "busybox", "name": "web"})
	bus.Log(moby.ImageEventType, moby.ActionTag, "sha256:1", map[string]string{"name": "busybox:2"})
	bus.Log(moby.NetworkEventType, moby.ActionCreate, "n1", nil)

	c, i, n := <-sub.C, <-sub.C, <-sub.C
	assert.Equal(t, Message{Status: "start", ID: "c1", From: "busybox", Message: moby.Message{
		Type: "container", Action: "start", Scope: "local", Time: c.Time, TimeNano: c.TimeNano,
		Actor: moby.Actor{ID: "c1", Attributes: map[string]string{"image": "busybox", "name": "web"}},
	}}, c)
	assert.Equal(t, c.TimeNano/1e9, c.Time)
	assert.WithinDuration(t, time.Now(), time.Unix(0, c.TimeNano), time.Minute)
	assert.Equal(t, []string{"tag", "sha256:1", ""}, []string{i.Status, i.ID, i.From})
	assert.Equal(t, []string{"", "", ""}, []string{n.Status, n.ID, n.From}, "only containers and images have the legacy fields")
	assert.NotNil(t, n.Actor.Attributes, "attributes are {} rather than null, as dockerd's")
}

func TestSubscribeSinceUntil(t *testing.T) {
	clk := &clock{t: time.Unix(1000, 0)}
	bus := New(Options{Ring: 4, Now: clk.now})
	for _, a := range []string{"a", "b", "c", "d", "e", "f"} {
		bus.Log(moby.ContainerEventType, moby.Action(a), "x", nil)
	}
	// The ring holds c (1003s) .. f (1006s); the clock now reads 1007s
	// at the next subscription.
	cases := []struct {
		name         string
		since, until time.Time
		past         []string
		ended        bool
	}{
		{"neither: live only", time.Time{}, time.Time{}, nil, false},
		{"since before the ring: what it kept", time.Unix(1, 0), time.Time{}, []string{"c", "d", "e", "f"}, false},
		{"since inclusive", time.Unix(1005, 0), time.Time{}, []string{"e", "f"}, false},
		{"until past: past only, ended", time.Unix(1, 0), time.Unix(1004, 0), []string{"c", "d"}, true},
		{"until alone", time.Time{}, time.Unix(1003, 500), []string{"c"}, true},
		{"since and until", time.Unix(1004, 0), time.Unix(1005, 0), []string{"d", "e"}, true},
		{"since in the future", time.Unix(5000, 0), time.Time{}, nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sub := bus.Subscribe(tc.since, tc.until, nil)
			defer sub.Close()
			assert.Equal(t, tc.past, actions(sub.Past))
			if tc.ended {
				_, open := <-sub.C
				assert.False(t, open)
				assert.NoError(t, sub.Err())
			} else {
				assert.Equal(t, 1, bus.Subscribers())
			}
		})
	}
}

// An until in the future: live events up to it, then the end; nothing
// stamped after it is delivered.
func TestUntilEndsTheStream(t *testing.T) {
	bus := New(Options{})
	sub := bus.Subscribe(time.Time{}, time.Now().Add(200*time.Millisecond), nil)
	bus.Log(moby.ContainerEventType, "before", "x", nil)
	var got []string
	for m := range sub.C {
		got = append(got, string(m.Action))
	}
	assert.Equal(t, []string{"before"}, got)
	assert.NoError(t, sub.Err())
	assert.Equal(t, 0, bus.Subscribers())

	// An event stamped after until ends a subscription whose timer has
	// not fired yet (it is an hour away in real time).
	now := time.Unix(1000, 0)
	bus = New(Options{Now: func() time.Time { return now }})
	sub = bus.Subscribe(time.Time{}, now.Add(time.Hour), nil)
	now = now.Add(time.Minute)
	bus.Log(moby.ContainerEventType, "in", "x", nil)
	now = now.Add(2 * time.Hour)
	bus.Log(moby.ContainerEventType, "out", "x", nil)
	assert.Equal(t, []string{"in"}, actions(drain(sub.C)))
	assert.NoError(t, sub.Err())
}

// No gap and no duplicate between Past and C, while publishers run.
func TestPastThenLiveExactlyOnce(t *testing.T) {
	bus := New(Options{Ring: 100000, Buffer: 100000})
	const n = 20000
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range n {
			bus.Log(moby.ContainerEventType, moby.Action(fmt.Sprint(i)), "x", nil)
		}
	})
	sub := bus.Subscribe(time.Unix(1, 0), time.Time{}, nil)
	wg.Wait()
	sub.Close()
	got := actions(sub.Past)
	for m := range sub.C {
		got = append(got, string(m.Action))
	}
	require.Len(t, got, n)
	for i, a := range got {
		require.Equal(t, fmt.Sprint(i), a)
	}
}

// A subscriber that does not read is ended, and publishers never wait
// for it; the others go on.
func TestSlowSubscriberIsDropped(t *testing.T) {
	bus := New(Options{Buffer: 2})
	slow := bus.Subscribe(time.Time{}, time.Time{}, nil)
	fast := bus.Subscribe(time.Time{}, time.Time{}, nil)
	var got []string
	for i := range 5 {
		bus.Log(moby.ContainerEventType, moby.Action(fmt.Sprint(i)), "x", nil)
		got = append(got, string((<-fast.C).Action))
	}
	assert.Equal(t, []string{"0", "1", "2", "3", "4"}, got)
	assert.Equal(t, []string{"0", "1"}, actions(drain(slow.C)))
	assert.ErrorIs(t, slow.Err(), ErrTooSlow)
	assert.NoError(t, fast.Err())
	assert.Equal(t, 1, bus.Subscribers())
}

func drain(c <-chan Message) []Message {
	var out []Message
	for m := range c {
		out = append(out, m)
	}
	return out
}

func TestCloseEndsSubscriptions(t *testing.T) {
	bus := New(Options{})
	bus.Log(moby.ContainerEventType, "old", "x", nil)
	sub := bus.Subscribe(time.Time{}, time.Time{}, nil)
	sub.Close()
	sub.Close()
	assert.Empty(t, drain(sub.C))
	assert.NoError(t, sub.Err())

	live := bus.Subscribe(time.Time{}, time.Time{}, nil)
	bus.Close()
	assert.Empty(t, drain(live.C))
	assert.ErrorIs(t, live.Err(), ErrClosed)
	bus.Log(moby.ContainerEventType, "dropped", "x", nil)
	after := bus.Subscribe(time.Unix(1, 0), time.Time{}, nil)
	assert.Equal(t, []string{"old"}, actions(after.Past))
	assert.ErrorIs(t, after.Err(), ErrClosed)
}

func TestTimesNeverGoBack(t *testing.T) {
	var now time.Time
	bus := New(Options{Now: func() time.Time { return now }})
	for _, sec := range []int64{100, 50, 120} {
		now = time.Unix(sec, 0)
		bus.Log(moby.ContainerEventType, "x", "x", nil)
	}
	sub := bus.Subscribe(time.Unix(1, 0), time.Unix(110, 0), nil)
	var got []int64
	for _, m := range sub.Past {
		got = append(got, m.Time)
	}
	assert.Equal(t, []int64{100, 100}, got)
}

func TestFilter(t *testing.T) {
	web := Message{Message: moby.Message{Type: "container", Action: "start", Scope: "local", Actor: moby.Actor{
		ID: "abc123", Attributes: map[string]string{"name": "web", "image": "busybox:1.36", "com.docker.compose.project": "shop", "tier": "front"}}}}
	exec := Message{Message: moby.Message{Type: "container", Action: "exec_start: sh -c true", Scope: "local", Actor: moby.Actor{
		ID: "abc123", Attributes: map[string]string{"name": "web", "image": "busybox", "execID": "e1"}}}}
	tag := Message{Message: moby.Message{Type: "image", Action: "tag", Scope: "local", Actor: moby.Actor{
		ID: "sha256:ffee", Attributes: map[string]string{"name": "busybox:2"}}}}
	connect := Message{Message: moby.Message{Type: "network", Action: "connect", Scope: "local", Actor: moby.Actor{
		ID: "net9", Attributes: map[string]string{"name": "front", "container": "abc123", "type": "bridge"}}}}
	vol := Message{Message: moby.Message{Type: "volume", Action: "mount", Scope: "local", Actor: moby.Actor{
		ID: "data", Attributes: map[string]string{"container": "abc123", "driver": "local"}}}}
	all := map[string]Message{"web": web, "exec": exec, "tag": tag, "connect": connect, "vol": vol}

	cases := []struct {
		filter string
		want   []string
	}{
		{`{}`, []string{"connect", "exec", "tag", "vol", "web"}},
		{`{"type":{"container":true}}`, []string{"exec", "web"}},
		{`{"type":{"image":true,"network":true}}`, []string{"connect", "tag"}},
		{`{"event":{"start":true}}`, []string{"web"}},
		{`{"event":{"exec_start":true}}`, []string{"exec"}},
		{`{"event":{"exec_start":true,"sta":true}}`, []string{"exec", "web"}}, // fuzzy for all values, as dockerd
		{`{"event":{"exec_start: sh -c true":true}}`, []string{"exec"}},
		{`{"container":{"web":true}}`, []string{"exec", "web"}},
		{`{"container":{"abc":true}}`, []string{"exec", "web"}},
		{`{"container":{"front":true}}`, []string{"connect"}}, // any actor's name, as dockerd
		{`{"network":{"front":true}}`, []string{"connect"}},
		{`{"network":{"net9":true},"type":{"container":true}}`, nil},
		{`{"volume":{"data":true}}`, []string{"vol"}},
		{`{"image":{"busybox":true}}`, []string{"exec", "tag", "web"}},
		{`{"image":{"busybox:1.36":true}}`, []string{"web"}},
		{`{"image":{"docker.io/library/busybox:1.36":true}}`, nil}, // strings, not normalised, as dockerd
		{`{"image":{"busybox:2":true}}`, []string{"tag"}},
		{`{"image":{"sha256:ffee":true}}`, []string{"tag"}},
		{`{"label":{"com.docker.compose.project=shop":true}}`, []string{"web"}},
		{`{"label":{"com.docker.compose.project=shop":true,"tier=back":true}}`, nil},
		{`{"label":{"com.docker.compose.project":true,"tier=front":true}}`, []string{"web"}},
		{`{"label":{"container=abc123":true}}`, []string{"connect", "vol"}},
		{`{"scope":{"local":true}}`, []string{"connect", "exec", "tag", "vol", "web"}},
		{`{"scope":{"swarm":true}}`, nil},
		{`{"daemon":{"x":true}}`, nil},
		{`{"type":{"container":true},"event":{"start":true},"container":{"web":true}}`, []string{"web"}},
	}
	for _, tc := range cases {
		t.Run(tc.filter, func(t *testing.T) {
			args, err := filters.Parse(tc.filter)
			require.NoError(t, err)
			f, err := NewFilter(args)
			require.NoError(t, err)
			var got []string
			for _, name := range []string{"connect", "exec", "tag", "vol", "web"} {
				if f.Match(all[name]) {
					got = append(got, name)
				}
			}
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestFilterRefusesUnknownKeys(t *testing.T) {
	for _, key := range []string{"plugin", "service", "node", "secret", "config", "name", "status"} {
		_, err := NewFilter(filters.Args{key: {"x"}})
		assert.ErrorContains(t, err, "invalid filter '"+key+"'", key)
	}
}

// Publish with n subscribers that read everything, each filtering out
// half the events (a filter costs what a real client's does). The
// readers are given time to catch up every 256 events, off the clock:
// what is measured is the delivery, not the drop of a reader that a
// tight loop of publishes outran (TestSlowSubscriberIsDropped covers
// that); "dropped" must stay 0.
func BenchmarkPublish(b *testing.B) {
	for _, n := range []int{0, 1, 10, 100} {
		b.Run(fmt.Sprintf("subscribers=%d", n), func(b *testing.B) {
			bus := New(Options{})
			f, err := NewFilter(filters.Args{"type": {"container"}})
			require.NoError(b, err)
			var wg sync.WaitGroup
			var received atomic.Int64
			for range n {
				sub := bus.Subscribe(time.Time{}, time.Time{}, f)
				wg.Go(func() {
					for range sub.C {
						received.Add(1)
					}
				})
			}
			attrs := map[string]string{"name": "web", "image": "busybox"}
			var delivered int64
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				typ := moby.ContainerEventType
				if i%2 == 1 {
					typ = moby.NetworkEventType
				} else {
					delivered += int64(n)
				}
				bus.Log(typ, moby.ActionStart, "abc", attrs)
				if i%256 == 255 {
					b.StopTimer()
					for received.Load() < delivered && bus.Subscribers() == n {
						runtime.Gosched()
					}
					b.StartTimer()
				}
			}
			b.StopTimer()
			dropped := n - bus.Subscribers()
			bus.Close()
			wg.Wait()
			b.ReportMetric(float64(dropped), "dropped")
		})
	}
}

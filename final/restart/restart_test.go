package restart

import (
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	no            = Policy{Name: container.RestartPolicyDisabled}
	none          = Policy{}
	always        = Policy{Name: container.RestartPolicyAlways}
	unlessStopped = Policy{Name: container.RestartPolicyUnlessStopped}
	onFailure     = Policy{Name: container.RestartPolicyOnFailure}
	onFailure2    = Policy{Name: container.RestartPolicyOnFailure, MaximumRetryCount: 2}
)

func TestShouldRestart(t *testing.T) {
	for _, tc := range []struct {
		name    string
		p       Policy
		count   int
		code    int
		stopped bool
		want    bool
	}{
		{"no", no, 0, 1, false, false},
		{"empty is no", none, 0, 1, false, false},
		{"always after 0", always, 0, 0, false, true},
		{"always after failure", always, 5, 137, false, true},
		{"always stopped (flag only: Stop also cancels)", always, 0, 143, true, true},
		{"unless-stopped after 0", unlessStopped, 0, 0, false, true},
		{"unless-stopped stopped", unlessStopped, 0, 0, true, false},
		{"on-failure after 0", onFailure, 0, 0, false, false},
		{"on-failure after 3", onFailure, 0, 3, false, true},
		{"on-failure unbounded", onFailure, 1000, 3, false, true},
		{"on-failure stopped (flag only)", onFailure, 0, 137, true, true},
		{"on-failure:2 first", onFailure2, 0, 3, false, true},
		{"on-failure:2 second", onFailure2, 1, 3, false, true},
		{"on-failure:2 spent", onFailure2, 2, 3, false, false},
		{"on-failure:2 after 0", onFailure2, 1, 0, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, ShouldRestart(tc.p, tc.count, tc.code, tc.stopped))
		})
	}
}

func TestAtDaemonStart(t *testing.T) {
	for _, tc := range []struct {
		name      string
		p         Policy
		count     int
		code      int
		stopped   bool
		ranBefore bool
		want      bool
	}{
		{"no", no, 0, 1, false, true, false},
		{"always", always, 0, 0, false, true, true},
		{"always, stopped by a user", always, 0, 137, true, true, true},
		{"always, never ran", always, 0, 0, false, false, false},
		{"unless-stopped", unlessStopped, 0, 0, false, true, true},
		{"unless-stopped, stopped by a user", unlessStopped, 0, 143, true, true, false},
		{"on-failure, failed", onFailure, 0, 1, false, true, true},
		{"on-failure, succeeded", onFailure, 0, 0, false, true, false},
		{"on-failure, stopped by a user (non-zero)", onFailure, 0, 137, true, true, true},
		{"on-failure:2, spent", onFailure2, 2, 1, false, true, false},
		{"on-failure:2, one left", onFailure2, 1, 1, false, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, AtDaemonStart(tc.p, tc.count, tc.code, tc.stopped, tc.ranBefore))
		})
	}
}

func TestNextDelay(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		last, ran, want time.Duration
	}{
		{0, time.Second, 100 * ms},
		{100 * ms, time.Second, 200 * ms},
		{200 * ms, 0, 400 * ms},
		{32 * time.Second, time.Second, time.Minute}, // capped
		{time.Minute, time.Second, time.Minute},
		{time.Minute, 10 * time.Second, 100 * ms}, // a long run resets
		{400 * ms, 9999 * ms, 800 * ms},
		{0, time.Hour, 100 * ms},
	} {
		assert.Equal(t, tc.want, NextDelay(tc.last, tc.ran), "last %v ran %v", tc.last, tc.ran)
	}
	// The series from the first restart: 100ms doubling, to the cap.
	var got []time.Duration
	d := time.Duration(0)
	for range 12 {
		d = NextDelay(d, time.Second)
		got = append(got, d)
	}
	assert.Equal(t, []time.Duration{100 * ms, 200 * ms, 400 * ms, 800 * ms, 1600 * ms, 3200 * ms, 6400 * ms,
		12800 * ms, 25600 * ms, 51200 * ms, time.Minute, time.Minute}, got)
}

func TestParseAndValidate(t *testing.T) {
	for _, tc := range []struct {
		in       string
		want     Policy
		parseErr string
		rm       bool
		validErr string
	}{
		{in: "", want: none},
		{in: "no", want: no},
		{in: "always", want: always},
		{in: "unless-stopped", want: unlessStopped},
		{in: "on-failure", want: onFailure},
		{in: "on-failure:2", want: onFailure2},
		{in: "on-failure:-1", want: Policy{Name: "on-failure", MaximumRetryCount: -1}, validErr: "maximum retry count cannot be negative"},
		{in: "always:3", want: Policy{Name: "always", MaximumRetryCount: 3}, validErr: "maximum retry count can only be used with 'on-failure'"},
		{in: "sometimes", want: Policy{Name: "sometimes"}, validErr: "unknown policy 'sometimes'"},
		{in: ":3", parseErr: "no policy provided before colon"},
		{in: "on-failure:x", parseErr: "maximum retry count must be an integer"},
		{in: "always", want: always, rm: true, validErr: "can't create 'AutoRemove' container with restart policy"},
		{in: "no", want: no, rm: true},
	} {
		p, err := Parse(tc.in)
		if tc.parseErr != "" {
			require.ErrorContains(t, err, tc.parseErr, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.want, p, tc.in)
		err = Validate(p, tc.rm)
		if tc.validErr != "" {
			assert.ErrorContains(t, err, tc.validErr, tc.in)
		} else {
			assert.NoError(t, err, tc.in)
		}
	}
	assert.Equal(t, "on-failure:2", Format(onFailure2))
	assert.Equal(t, "no", Format(none))
	assert.Equal(t, "always", Format(always))
}

// fakeClock is a Clock moved by hand: Advance fires, in order, the
// timers that are due.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Duration
	timers []*fakeTimer
}

type fakeTimer struct {
	c       *fakeClock
	at      time.Duration
	f       func()
	stopped bool
	fired   bool
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, at: c.now + d, f: f}
	c.timers = append(c.timers, t)
	return t
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := !t.stopped && !t.fired
	t.stopped = true
	return was
}

// Advance moves the clock by d and runs the timers now due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now += d
	var due []*fakeTimer
	for _, t := range c.timers {
		if !t.stopped && !t.fired && t.at <= c.now {
			t.fired = true
			due = append(due, t)
		}
	}
	c.mu.Unlock()
	sort.Slice(due, func(i, j int) bool { return due[i].at < due[j].at })
	for _, t := range due {
		t.f()
	}
}

// pending is the delays of the timers not yet fired nor stopped.
func (c *fakeClock) pending() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []time.Duration
	for _, t := range c.timers {
		if !t.stopped && !t.fired {
			out = append(out, t.at-c.now)
		}
	}
	return out
}

// harness is a Manager over a fake clock, with a start that counts.
type harness struct {
	t      *testing.T
	m      *Manager
	clock  *fakeClock
	starts int
	dir    string
}

func newHarness(t *testing.T, p Policy) *harness {
	h := &harness{t: t, clock: &fakeClock{}, dir: t.TempDir()}
	m, err := Open(h.dir, p, h.clock)
	require.NoError(t, err)
	h.m = m
	return h
}

func (h *harness) start() { h.starts++; h.m.Started() }

func (h *harness) exit(code int, ran time.Duration) Decision {
	d, err := h.m.Exited(code, ran, h.start)
	require.NoError(h.t, err)
	return d
}

// TestManagerOnFailure2: on-failure:2 with a command that fails at once
// is started twice, 100 ms then 200 ms after its exits, and then stays
// exited with RestartCount 2.
func TestManagerOnFailure2(t *testing.T) {
	h := newHarness(t, onFailure2)
	d := h.exit(3, time.Millisecond)
	assert.Equal(t, Decision{Restart: true, Delay: 100 * time.Millisecond}, d)
	assert.Equal(t, BackingOff, h.m.Status())
	assert.True(t, h.m.Status().Restarting())
	assert.Equal(t, 1, h.m.Count())
	h.clock.Advance(99 * time.Millisecond)
	assert.Equal(t, 0, h.starts, "not before the back-off")
	h.clock.Advance(time.Millisecond)
	assert.Equal(t, 1, h.starts)
	assert.Equal(t, Watching, h.m.Status())

	assert.Equal(t, Decision{Restart: true, Delay: 200 * time.Millisecond}, h.exit(3, time.Millisecond))
	h.clock.Advance(200 * time.Millisecond)
	assert.Equal(t, 2, h.starts)
	assert.Equal(t, 2, h.m.Count())

	assert.Equal(t, Decision{}, h.exit(3, time.Millisecond), "retries spent")
	assert.Equal(t, Watching, h.m.Status())
	assert.Equal(t, 2, h.m.Count())
	assert.Empty(t, h.clock.pending())

	// The count survives the daemon: a new Manager over the directory.
	again, err := Open(h.dir, no, h.clock)
	require.NoError(t, err)
	assert.Equal(t, 2, again.Count())
	assert.Equal(t, onFailure2, again.Policy(), "the record's policy, not the one passed")
}

// TestManagerBackoffAndReset: the doubling, and a run of 10 s or more
// starting the series over, the count going on.
func TestManagerBackoffAndReset(t *testing.T) {
	h := newHarness(t, always)
	var delays []time.Duration
	for _, ran := range []time.Duration{0, time.Second, 2 * time.Second, 10 * time.Second, time.Second} {
		d := h.exit(0, ran)
		require.True(t, d.Restart)
		delays = append(delays, d.Delay)
		h.clock.Advance(d.Delay)
	}
	ms := time.Millisecond
	assert.Equal(t, []time.Duration{100 * ms, 200 * ms, 400 * ms, 100 * ms, 200 * ms}, delays)
	assert.Equal(t, 5, h.starts)
	assert.Equal(t, 5, h.m.Count())
}

// TestManagerStop: a stop during the back-off cancels the restart; the
// next exits are not restarted, until a manual start, which also resets
// the count and the back-off.
func TestManagerStop(t *testing.T) {
	h := newHarness(t, always)
	h.exit(0, 0)
	h.clock.Advance(100 * time.Millisecond)
	h.exit(0, 0) // waiting 200 ms
	pending, err := h.m.Stop()
	require.NoError(t, err)
	assert.True(t, pending)
	assert.Equal(t, Watching, h.m.Status())
	h.clock.Advance(time.Hour)
	assert.Equal(t, 1, h.starts, "the cancelled restart never comes")
	assert.Equal(t, Decision{}, h.exit(0, 0), "stopped: no restart")

	// A stop while running (not pending).
	h2 := newHarness(t, unlessStopped)
	pending, err = h2.m.Stop()
	require.NoError(t, err)
	assert.False(t, pending)
	assert.Equal(t, Decision{}, h2.exit(143, time.Minute))
	assert.False(t, h2.m.AtDaemonStart(143, true), "unless-stopped stays stopped")

	require.NoError(t, h.m.ManualStart())
	assert.Equal(t, 0, h.m.Count())
	assert.Equal(t, Decision{Restart: true, Delay: 100 * time.Millisecond}, h.exit(0, 0), "a new series")
}

// TestManagerMarkStopped: a kill with another signal than the stop
// signal: always still restarts, unless-stopped does not.
func TestManagerMarkStopped(t *testing.T) {
	h := newHarness(t, always)
	require.NoError(t, h.m.MarkStopped())
	assert.True(t, h.exit(1, 0).Restart)
	h = newHarness(t, unlessStopped)
	require.NoError(t, h.m.MarkStopped())
	assert.False(t, h.exit(1, 0).Restart)
}

// TestManagerAtDaemonStart: the record, read by a new Manager, decides
// as dockerd's restore.
func TestManagerAtDaemonStart(t *testing.T) {
	h := newHarness(t, always)
	_, err := h.m.Stop()
	require.NoError(t, err)
	m, err := Open(h.dir, always, h.clock)
	require.NoError(t, err)
	assert.True(t, m.AtDaemonStart(137, true), "always comes back even after a stop")
	assert.False(t, m.AtDaemonStart(137, false), "never ran")

	h = newHarness(t, unlessStopped)
	_, err = h.m.Stop()
	require.NoError(t, err)
	m, err = Open(h.dir, unlessStopped, h.clock)
	require.NoError(t, err)
	assert.False(t, m.AtDaemonStart(0, true))
	require.NoError(t, m.ManualStart())
	m, err = Open(h.dir, unlessStopped, h.clock)
	require.NoError(t, err)
	assert.True(t, m.AtDaemonStart(0, true), "a start clears the stop")
}

// TestManagerCancelWaitsForStart: a stop that comes while the daemon's
// start runs returns after it, and the start is not repeated.
func TestManagerCancelWaitsForStart(t *testing.T) {
	h := newHarness(t, always)
	inStart, release := make(chan struct{}), make(chan struct{})
	_, err := h.m.Exited(0, 0, func() {
		close(inStart)
		<-release
		h.m.Started()
	})
	require.NoError(t, err)
	go h.clock.Advance(100 * time.Millisecond)
	<-inStart
	assert.Equal(t, Starting, h.m.Status())
	assert.True(t, h.m.Status().Restarting())
	stopped := make(chan bool)
	go func() {
		pending, err := h.m.Stop()
		assert.NoError(t, err)
		stopped <- pending
	}()
	select {
	case <-stopped:
		t.Fatal("Stop returned while the start ran")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	assert.False(t, <-stopped, "not pending: the start happened, the caller stops the run")
	assert.Equal(t, Watching, h.m.Status())
}

// TestManagerExitDuringStart: a run that ends before its start has
// returned (a command that exits at once) is restarted like any other.
func TestManagerExitDuringStart(t *testing.T) {
	h := newHarness(t, always)
	var second Decision
	_, err := h.m.Exited(0, 0, func() {
		// The exit of the run this start began, seen before Started.
		var err error
		second, err = h.m.Exited(0, 0, h.start)
		assert.NoError(t, err)
		h.m.Started()
	})
	require.NoError(t, err)
	h.clock.Advance(100 * time.Millisecond)
	assert.Equal(t, Decision{Restart: true, Delay: 200 * time.Millisecond}, second)
	assert.Equal(t, BackingOff, h.m.Status(), "Started does not undo the new decision")
	h.clock.Advance(200 * time.Millisecond)
	assert.Equal(t, 1, h.starts)
	assert.Equal(t, 2, h.m.Count())
}

// TestManagerSetPolicy: an update applies from the next exit on, and is
// kept in the record.
func TestManagerSetPolicy(t *testing.T) {
	h := newHarness(t, no)
	assert.Equal(t, Decision{}, h.exit(1, 0))
	require.NoError(t, h.m.SetPolicy(onFailure))
	assert.True(t, h.exit(1, 0).Restart)
	m, err := Open(h.dir, no, h.clock)
	require.NoError(t, err)
	assert.Equal(t, onFailure, m.Policy())
}

// TestRecordUnreadable: a torn record is reported, and the Manager goes
// on from the created policy.
func TestRecordUnreadable(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, RecordFile), []byte("{torn"), 0o644))
	m, err := Open(dir, always, &fakeClock{})
	require.ErrorContains(t, err, filepath.Join(dir, RecordFile))
	require.NotNil(t, m)
	assert.Equal(t, always, m.Policy())
	assert.Equal(t, 0, m.Count())
}

// TestNoPolicyWritesNothing: a container without a policy, started and
// exiting, costs no file.
func TestNoPolicyWritesNothing(t *testing.T) {
	h := newHarness(t, no)
	require.NoError(t, h.m.ManualStart())
	h.exit(0, 0)
	_, err := os.Stat(filepath.Join(h.dir, RecordFile))
	assert.ErrorIs(t, err, os.ErrNotExist)
}

// BenchmarkExitWithoutPolicy is what the policy costs the daemon at the
// exit of a container that has none, the most frequent case: its
// Manager opened (one failed read of the record) and asked.
func BenchmarkExitWithoutPolicy(b *testing.B) {
	dir := b.TempDir()
	for b.Loop() {
		m, err := Open(dir, no, System)
		if err != nil {
			b.Fatal(err)
		}
		if d, _ := m.Exited(0, time.Second, func() {}); d.Restart {
			b.Fatal("restarted")
		}
	}
}

// BenchmarkExitAlways is the decision for an "always" container: the
// count written to its record, the timer armed (and stopped here).
func BenchmarkExitAlways(b *testing.B) {
	dir := b.TempDir()
	m, err := Open(dir, always, System)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if d, err := m.Exited(0, time.Minute, func() {}); err != nil || !d.Restart {
			b.Fatal(err)
		}
		m.Cancel()
		if err := m.ManualStart(); err != nil {
			b.Fatal(err)
		}
	}
}

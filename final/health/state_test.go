package health

import (
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// step is one check's result, at a time after the container's start.
type step struct {
	at   time.Duration
	code int
	// what follows the result
	status  container.HealthStatus
	streak  int
	changed bool
}

func TestRecord(t *testing.T) {
	sch := Schedule{Test: []string{"CMD", "true"}, Interval: time.Second, Timeout: time.Second, StartPeriod: 10 * time.Second, StartInterval: time.Second, Retries: 2}
	for _, tc := range []struct {
		name  string
		sch   Schedule
		steps []step
	}{
		{"a pass makes it healthy", sch, []step{{1 * time.Second, 0, Healthy, 0, true}, {2 * time.Second, 0, Healthy, 0, false}}},
		{"failures in the start period do not count", sch, []step{
			{1 * time.Second, 1, Starting, 0, false}, {9 * time.Second, 1, Starting, 0, false},
			{11 * time.Second, 1, Starting, 1, false}, {12 * time.Second, 1, Unhealthy, 2, true},
		}},
		{"after a pass, failures in the start period count", sch, []step{
			{1 * time.Second, 0, Healthy, 0, true}, {2 * time.Second, 1, Healthy, 1, false}, {3 * time.Second, 1, Unhealthy, 2, true},
		}},
		{"a pass resets the streak", sch, []step{
			{11 * time.Second, 1, Starting, 1, false}, {12 * time.Second, 0, Healthy, 0, true}, {13 * time.Second, 1, Healthy, 1, false},
		}},
		{"unhealthy comes back", sch, []step{
			{11 * time.Second, 1, Starting, 1, false}, {12 * time.Second, 1, Unhealthy, 2, true}, {13 * time.Second, 1, Unhealthy, 3, false},
			{14 * time.Second, 0, Healthy, 0, true},
		}},
		{"a timeout is a failure", Schedule{Test: sch.Test, Retries: 1}, []step{{time.Second, -1, Unhealthy, 1, true}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s State
			s.Restart(t0)
			for i, st := range tc.steps {
				at := t0.Add(st.at)
				changed := s.Record(tc.sch, Result{Start: at, End: at.Add(time.Millisecond), ExitCode: st.code})
				assert.Equal(t, st.status, s.Status, "step %d", i)
				assert.Equal(t, st.streak, s.FailingStreak, "step %d", i)
				assert.Equal(t, st.changed, changed, "step %d", i)
			}
		})
	}
}

func TestLogKeepsTheLastFiveAndCutsTheOutput(t *testing.T) {
	sch := Schedule{Test: []string{"CMD", "true"}, Retries: 3}
	var s State
	s.Restart(t0)
	for i := range 7 {
		s.Record(sch, Result{Start: t0.Add(time.Duration(i) * time.Second), Output: strings.Repeat("x", MaxOutput+i)})
	}
	require.Len(t, s.Log, MaxLog)
	assert.Equal(t, t0.Add(2*time.Second), s.Log[0].Start, "the oldest kept is the third")
	assert.Equal(t, strings.Repeat("x", MaxOutput)+"...", s.Log[4].Output)
	h := s.Docker()
	assert.Len(t, h.Log, MaxLog)
	assert.Equal(t, s, func() State { r := FromDocker(h); r.started = s.started; return r }())
}

func TestRestartKeepsTheLog(t *testing.T) {
	sch := Schedule{Test: []string{"CMD", "true"}, Retries: 1}
	var s State
	s.Restart(t0)
	s.Record(sch, Result{Start: t0, ExitCode: 1})
	require.Equal(t, Unhealthy, s.Status)
	s.Restart(t0.Add(time.Minute))
	assert.Equal(t, Starting, s.Status)
	assert.Zero(t, s.FailingStreak)
	assert.Len(t, s.Log, 1)
}

func TestNext(t *testing.T) {
	sch := Schedule{Interval: 30 * time.Second, StartPeriod: 10 * time.Second, StartInterval: time.Second, Retries: 3}
	var s State
	s.Restart(t0)
	assert.Equal(t, time.Second, s.Next(sch, t0.Add(5*time.Second)), "starting, in the start period")
	assert.Equal(t, 30*time.Second, s.Next(sch, t0.Add(10*time.Second)), "the start period is over")
	s.Status = Healthy
	assert.Equal(t, 30*time.Second, s.Next(sch, t0.Add(5*time.Second)), "healthy already")
}

func TestNewScheduleDefaults(t *testing.T) {
	for _, tc := range []struct {
		hc   container.HealthConfig
		want Schedule
		err  string
	}{
		{hc: container.HealthConfig{Test: []string{"CMD-SHELL", "true"}},
			want: Schedule{Test: []string{"CMD-SHELL", "true"}, Interval: 30 * time.Second, Timeout: 30 * time.Second, StartInterval: 5 * time.Second, Retries: 3}},
		{hc: container.HealthConfig{Test: []string{"CMD", "true"}, Interval: time.Second, Timeout: 2 * time.Second, StartPeriod: 3 * time.Second, StartInterval: 4 * time.Second, Retries: 5},
			want: Schedule{Test: []string{"CMD", "true"}, Interval: time.Second, Timeout: 2 * time.Second, StartPeriod: 3 * time.Second, StartInterval: 4 * time.Second, Retries: 5}},
		{hc: container.HealthConfig{Test: []string{"CMD"}}, err: "unknown test"},
		{hc: container.HealthConfig{Test: []string{"FOO", "x"}}, err: "unknown test"},
		{hc: container.HealthConfig{Test: []string{"NONE"}}, err: "no test"},
	} {
		got, err := NewSchedule(&tc.hc)
		if tc.err != "" {
			assert.ErrorContains(t, err, tc.err, "%v", tc.hc.Test)
			continue
		}
		require.NoError(t, err)
		assert.Equal(t, tc.want, got)
	}
}

func TestCommand(t *testing.T) {
	cmd, err := Schedule{Test: []string{"CMD-SHELL", "exit 0"}}.Command(nil)
	require.NoError(t, err)
	assert.Equal(t, []string{"/bin/sh", "-c", "exit 0"}, cmd)
	cmd, err = Schedule{Test: []string{"CMD-SHELL", "exit 0"}}.Command([]string{"/bin/bash", "-ec"})
	require.NoError(t, err)
	assert.Equal(t, []string{"/bin/bash", "-ec", "exit 0"}, cmd)
	cmd, err = Schedule{Test: []string{"CMD", "pg_isready", "-q"}}.Command(nil)
	require.NoError(t, err)
	assert.Equal(t, []string{"pg_isready", "-q"}, cmd)
}

func TestMerge(t *testing.T) {
	img := &container.HealthConfig{Test: []string{"CMD", "a"}, Interval: time.Second, Timeout: 2 * time.Second, StartPeriod: 3 * time.Second, StartInterval: 4 * time.Second, Retries: 5}
	for _, tc := range []struct {
		name     string
		ctr, img *container.HealthConfig
		want     *container.HealthConfig
	}{
		{"neither", nil, nil, nil},
		{"the image's", nil, img, img},
		{"the container's alone", &container.HealthConfig{Test: []string{"CMD", "b"}}, nil, &container.HealthConfig{Test: []string{"CMD", "b"}}},
		{"field by field", &container.HealthConfig{Interval: 9 * time.Second, Retries: 1}, img,
			&container.HealthConfig{Test: []string{"CMD", "a"}, Interval: 9 * time.Second, Timeout: 2 * time.Second, StartPeriod: 3 * time.Second, StartInterval: 4 * time.Second, Retries: 1}},
		{"NONE", &container.HealthConfig{Test: []string{"NONE"}}, img,
			&container.HealthConfig{Test: []string{"NONE"}, Interval: time.Second, Timeout: 2 * time.Second, StartPeriod: 3 * time.Second, StartInterval: 4 * time.Second, Retries: 5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Merge(tc.ctr, tc.img)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, Enabled(tc.want), Enabled(got))
		})
	}
	assert.False(t, Enabled(Merge(&container.HealthConfig{Test: []string{"NONE"}}, img)), "--no-healthcheck wins over the image")
}

func TestTimeoutOutput(t *testing.T) {
	assert.Equal(t, "Health check exceeded timeout (300ms)", TimeoutOutput(300*time.Millisecond))
	assert.Equal(t, "Health check exceeded timeout (30s)", TimeoutOutput(30*time.Second))
}

package build

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHealthcheck(t *testing.T) {
	for _, tc := range []struct {
		line string
		want *container.HealthConfig
		err  string
	}{
		{"HEALTHCHECK NONE", &container.HealthConfig{Test: []string{"NONE"}}, ""},
		{"HEALTHCHECK CMD curl -f http://localhost/ || exit 1", &container.HealthConfig{Test: []string{"CMD-SHELL", "curl -f http://localhost/ || exit 1"}}, ""},
		{`HEALTHCHECK CMD ["pg_isready", "-q"]`, &container.HealthConfig{Test: []string{"CMD", "pg_isready", "-q"}}, ""},
		{"HEALTHCHECK --interval=5s --timeout=2s --start-period=1m --start-interval=500ms --retries=4 cmd true",
			&container.HealthConfig{Test: []string{"CMD-SHELL", "true"}, Interval: 5 * time.Second, Timeout: 2 * time.Second,
				StartPeriod: time.Minute, StartInterval: 500 * time.Millisecond, Retries: 4}, ""},
		{"HEALTHCHECK NONE true", nil, "HEALTHCHECK NONE takes no arguments"},
		{"HEALTHCHECK RUN true", nil, `Unknown type "RUN" in HEALTHCHECK (try CMD)`},
		{"HEALTHCHECK CMD", nil, "Missing command after HEALTHCHECK CMD"},
		{"HEALTHCHECK --interval=1us CMD true", nil, `Interval "--interval" cannot be less than 1ms`},
		{"HEALTHCHECK --retries=-1 CMD true", nil, "--retries cannot be negative (-1)"},
		{"HEALTHCHECK --timeout=soon CMD true", nil, "HEALTHCHECK --timeout"},
	} {
		t.Run(tc.line, func(t *testing.T) {
			f := newBuildFake(t)
			id, out, err := f.build("FROM base\n"+tc.line+"\n", nil, Options{})
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err)
				return
			}
			require.NoError(t, err, out)
			var got container.HealthConfig
			require.NoError(t, json.Unmarshal(f.images[id].Config.Healthcheck, &got))
			assert.Equal(t, tc.want, &got)
		})
	}
}

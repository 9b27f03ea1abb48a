package filters

import (
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPorts(t *testing.T) {
	web := []container.PortSummary{{PrivatePort: 80, PublicPort: 8080, Type: "tcp"}, {PrivatePort: 9000, Type: "tcp"}}
	for _, tc := range []struct {
		args Args
		want bool
	}{
		{Args{}, true},
		{Args{"publish": {"8080"}}, true},
		{Args{"publish": {"80"}}, false}, // publish is the host's side
		{Args{"publish": {"8080/udp"}}, false},
		{Args{"expose": {"80"}}, true},   // expose the container's
		{Args{"expose": {"9000"}}, true}, // published or not
		{Args{"expose": {"8990-9010"}}, true},
		{Args{"expose": {"81-89"}}, false},
		{Args{"publish": {"1"}, "expose": {"9000"}}, true}, // either will do
	} {
		p, err := tc.args.Ports()
		require.NoError(t, err, tc.args)
		assert.Equal(t, tc.want, p.Match(web), tc.args)
	}
	for _, bad := range []Args{{"publish": {"127.0.0.1:80"}}, {"expose": {"eighty"}}} {
		_, err := bad.Ports()
		assert.Error(t, err, bad)
	}
}

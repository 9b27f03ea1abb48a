package nsenter

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestNamespacesToEnter: only the namespaces that differ from ours, in
// the order of Namespaces; an unknown PID is an error.
func TestNamespacesToEnter(t *testing.T) {
	nss, err := namespacesToEnter(os.Getpid(), nil)
	require.NoError(t, err)
	assert.Empty(t, nss, "our own process: nothing to enter")

	_, err = namespacesToEnter(1<<30, nil)
	assert.ErrorIs(t, err, os.ErrNotExist)
}

package labtest

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
)

// recorder stands in for *testing.T to see what Need decides.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Helper()                   {}
func (r *recorder) Skip(args ...any)          { r.skipped = fmt.Sprint(args...) }
func (r *recorder) Fatalf(f string, a ...any) { r.failed = fmt.Sprintf(f, a...) }

func TestNeedSkipsByDefault(t *testing.T) {
	t.Setenv(RequireEnv, "")
	r := &recorder{TB: t}
	Need(r, false, "needs a kernel feature")
	assert.Equal(t, "needs a kernel feature", r.skipped)
	assert.Empty(t, r.failed)
}

func TestNeedFailsWhenPrivilegedTestsAreRequired(t *testing.T) {
	t.Setenv(RequireEnv, "1")
	r := &recorder{TB: t}
	Need(r, false, "needs a kernel feature")
	assert.Empty(t, r.skipped)
	assert.Contains(t, r.failed, "needs a kernel feature")
	assert.Contains(t, r.failed, RequireEnv+"=1")
}

func TestNeedDoesNothingWhenMet(t *testing.T) {
	t.Setenv(RequireEnv, "1")
	r := &recorder{TB: t}
	Need(r, true, "never said")
	assert.Empty(t, r.skipped+r.failed)
}

func TestUniqueNamesDifferAndFitADeviceName(t *testing.T) {
	a, b := Unique("bt"), Unique("bt")
	assert.NotEqual(t, a, b)
	assert.LessOrEqual(t, len(a), 15)
}

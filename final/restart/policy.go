package restart

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/container"
)

// Policy is a container's restart policy, the Engine API's own type:
// Name is "no" (or empty: the same), "on-failure", "always" or
// "unless-stopped"; MaximumRetryCount bounds on-failure's restarts (0:
// no bound).
type Policy = container.RestartPolicy

// Parse reads the --restart flag of docker run, create and update:
// "no", "always", "unless-stopped", "on-failure" or "on-failure:N". The
// policy's name is checked by Validate, on the daemon's side, as the
// docker CLI leaves it to dockerd; the form is checked here, with the
// docker CLI's words.
func Parse(s string) (Policy, error) {
	if s == "" {
		return Policy{}, nil
	}
	name, count, hasCount := strings.Cut(s, ":")
	if hasCount && name == "" {
		return Policy{}, errors.New("invalid restart policy format: no policy provided before colon")
	}
	p := Policy{Name: container.RestartPolicyMode(name)}
	if count != "" {
		n, err := strconv.Atoi(count)
		if err != nil {
			return Policy{}, errors.New("invalid restart policy format: maximum retry count must be an integer")
		}
		p.MaximumRetryCount = n
	}
	return p, nil
}

// Format is the policy as --restart takes it: "on-failure:3", "always".
func Format(p Policy) string {
	if p.Name == "" {
		return string(container.RestartPolicyDisabled)
	}
	if p.MaximumRetryCount != 0 {
		return fmt.Sprintf("%s:%d", p.Name, p.MaximumRetryCount)
	}
	return string(p.Name)
}

// ErrAutoRemove is dockerd's refusal of a restart policy for a
// container removed at its exit (--rm): the two contradict each other.
var ErrAutoRemove = errors.New("can't create 'AutoRemove' container with restart policy")

// Validate applies dockerd's rules to a policy that a create or an
// update asks for: a known name, a retry count only with on-failure and
// never negative (the Engine API module's ValidateRestartPolicy, whose
// messages are dockerd's; like dockerd it lets an empty name, which old
// clients sent for "no", pass with any count), and no policy but "no"
// for an --rm container.
func Validate(p Policy, autoRemove bool) error {
	if err := container.ValidateRestartPolicy(p); err != nil {
		return err
	}
	if autoRemove && !p.IsNone() {
		return ErrAutoRemove
	}
	return nil
}

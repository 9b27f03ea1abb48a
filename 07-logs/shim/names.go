package shim

import (
	"fmt"
	"math/rand/v2"
	"regexp"
)

// validName is what a container name may look like: Docker's rule. The
// first character cannot be '.', '_' or '-', so a name is never "." or
// "..", never starts like a flag, and is always one path element.
var validName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// CheckName reports a name that --name cannot take.
func CheckName(name string) error {
	if len(name) > 128 || !validName.MatchString(name) {
		return fmt.Errorf("invalid container name %q: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed, at most 128 characters", name)
	}
	return nil
}

// The words of generated names. A berth is where a ship lies at the
// quay, so the nouns are things one finds in a harbour.
var (
	adjectives = []string{
		"amber", "ancient", "brave", "breezy", "bright", "busy", "calm", "clever",
		"cosy", "crimson", "curious", "daring", "dusky", "eager", "early", "fearless",
		"festive", "gentle", "gleaming", "golden", "happy", "hardy", "hidden", "humble",
		"jolly", "keen", "kind", "lively", "lucky", "mellow", "merry", "misty",
		"nimble", "noble", "patient", "placid", "proud", "quick", "quiet", "rapid",
		"rosy", "rustic", "salty", "serene", "silent", "silver", "sleepy", "smooth",
		"snug", "steady", "stormy", "sturdy", "sunny", "swift", "tidy", "tranquil",
		"trusty", "upbeat", "vivid", "wandering", "wary", "windy", "witty", "zealous",
	}
	nouns = []string{
		"anchor", "barge", "beacon", "bollard", "buoy", "cargo", "channel", "coracle",
		"crane", "cutter", "dinghy", "dock", "dory", "ferry", "frigate", "galleon",
		"gangway", "harbour", "hawser", "hull", "jetty", "keel", "ketch", "lantern",
		"launch", "lighthouse", "lock", "mast", "mooring", "oar", "pier", "pilot",
		"quay", "raft", "rigging", "rudder", "sail", "schooner", "sextant", "skiff",
		"slipway", "sloop", "starboard", "tanker", "tide", "tiller", "trawler", "tug",
		"wharf", "yacht", "yawl", "capstan", "compass", "cove", "estuary", "fender",
		"gull", "helm", "inlet", "lagoon", "marina", "porthole", "reef", "spinnaker",
	}
)

// generateName returns a name such as "steady_lighthouse". try counts
// the names already found taken: from the third try on, a number is added
// ("steady_lighthouse7"), as Docker does, so that a busy host still finds
// a free name quickly.
func generateName(try int) string {
	name := adjectives[rand.IntN(len(adjectives))] + "_" + nouns[rand.IntN(len(nouns))]
	if try >= 2 {
		name += fmt.Sprint(rand.IntN(10 * try))
	}
	return name
}

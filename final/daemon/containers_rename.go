package daemon

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/containerd/errdefs"
	moby "github.com/moby/moby/api/types/events"

	"github.com/berth-project/berth/07-logs/shim"
)

// ContainerRename gives a container a new name, as POST
// /containers/{id}/rename does (docker rename, and Compose, which
// recreates a container by renaming the old one out of the way first).
//
// A name lives in three places, changed in this order:
//
//	<DataRoot>/names/<name>    chapter 07's reservation (shim.Container.Rename)
//	config.json                 the container's record, read after a restart
//	live.byName, entry.name     this daemon's index (lookup, ps, inspect)
//
// and a running container on user networks is then answered by the
// DNS server under the new name only (endpointsChanged), as dockerd's
// embedded server does. The container's hostname does not change: it
// was the short ID or --hostname, never the name.
func (d *Daemon) ContainerRename(ctx context.Context, name, newName string) error {
	if name == "" || newName == "" {
		return invalid("Neither old nor new names may be empty")
	}
	e, err := d.lookup(name)
	if err != nil {
		return err
	}
	newName = strings.TrimPrefix(newName, "/")
	// dockerd's words, with its "/" before the name.
	const prefix = "Error when allocating new name: "
	switch {
	case len(newName) > maxNameLen:
		return invalid(prefix+"Invalid container name (/%s...): longer than %d characters", newName[:32], maxNameLen)
	case !validName.MatchString(newName):
		return invalid(prefix+"Invalid container name (/%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", newName)
	}

	// live.mu serializes renames with each other and with the index's
	// other changes (add, forget), so byName never holds a stale name.
	l := d.live
	l.mu.Lock()
	if newName == e.name.get() {
		l.mu.Unlock()
		return invalid("Renaming a container with the same name as its current name")
	}
	old := e.name.get()
	err = e.c.Rename(newName)
	if err == nil {
		e.name.set(newName)
		if l.byName[old] == e {
			delete(l.byName, old)
		}
		l.byName[newName] = e
	}
	l.mu.Unlock()
	if errors.Is(err, shim.ErrNameInUse) {
		if taken := d.nameTaken(newName); taken != nil {
			return errdefs.ErrConflict.WithMessage(prefix + taken.Error())
		}
		return errdefs.ErrConflict.WithMessage(fmt.Sprintf(prefix+"Conflict. The container name \"/%s\" is already in use by a container being created. You have to remove (or rename) that container to be able to reuse that name.", newName))
	}
	if err != nil {
		return fmt.Errorf("renaming container %s: %w", e.id, err)
	}
	e.forgetView() // its DNS names on user networks
	d.endpointsChanged(e)
	// dockerd's oldName has the "/" of its names.
	d.emitContainer(e, moby.ActionRename, map[string]string{"oldName": "/" + old})
	return nil
}

// Package tuning is engine tuning that no chapter's program needs: what
// berthd may do to the host to start containers faster, and that a
// course about containers would only get in the way of.
//
// Engine tuning: skip on first reading; docs/performance.md tells why it
// exists.
//
// It holds one thing: FavorDynMods (dynmods.go), which remounts the
// host's cgroup2 filesystem with the favordynmods option, so that moving
// a process into a cgroup no longer waits for an RCU grace period.
// Chapter 02 moves a process into a cgroup (Cgroup.Add) without it, and
// is just as correct: the option changes how long the move takes, never
// what it does. It is a host-wide setting, so berthd applies it only
// when its administrator asks (--cgroup-favordynmods).
//
// The tuning that lives on the path of a chapter's own program stays in
// that chapter's package, in files named tuning_*.go that open with the
// same warning (chapter 01's tuning_prestart.go, chapter 02's
// tuning_devices_cache.go, chapter 04's atomicfile/tuning_exchange.go,
// chapter 06's tuning_directio.go, chapter 07's tuning_spares.go and
// tuning_cmonitor.go): the chapter's program uses them, but the
// lesson reads straight through without them.
package tuning

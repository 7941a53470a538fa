// Package serve is `ferry serve`: it runs the services of the appliance's
// current release and rolls new releases out to them. For each service it
// supervises one process per version (package supervise), routes the
// service's public address between the stable and the new version
// (package router), checks health (package health), measures each version
// (package metrics) and drives the service's blue-green or canary rollout
// (package rollout) from those measurements.
//
// One goroutine, the controller, owns every decision: ticks, health
// changes, smoke results and operator commands from the control socket
// reach it as messages, so the rollout state needs no locks and is saved
// (in state.db, with each decision in the audit log) before its actions
// are carried out. When `ferry serve` restarts it starts the versions the
// saved state names and continues the rollout where it was.
//
// `ferry serve` never holds the appliance's lock for long: it reads the
// current release from the `current` symlink, confirms it in state.db, and
// opens state.db for writing only to save a decision, so installs and
// updates run while it serves. A rollout that fails rolls the release back
// through installer.Rollback, the same transaction `ferry rollback` runs.
package serve

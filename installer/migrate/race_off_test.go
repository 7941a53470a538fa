//go:build !race

package migrate

// raceEnabled: the race detector slows the pure-Go SQLite about fortyfold.
const raceEnabled = false

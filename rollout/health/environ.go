package health

// Environ is the whole environment of a command ferry runs for a bundle:
// a health check, a smoke test, an install check. It is a fixed PATH and
// the given KEY=VALUE variables, nothing of ferry's own environment,
// because that holds ferry's secrets (FERRY_PASSPHRASE, database DSNs with
// passwords) and whatever the shell that started ferry carried: a check
// must neither see them nor behave differently with them.
func Environ(vars ...string) []string {
	return append([]string{"PATH=/usr/local/bin:/usr/bin:/bin"}, vars...)
}

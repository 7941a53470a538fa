// Package sealed keeps the site's secret configuration values encrypted at
// rest: each value of a `type: secret` variable is sealed with age
// (X25519) to the appliance's host key before it is stored in state.db,
// and opened only when a service that needs it is started.
//
// The host key is one file, <root>/keys/config.age (KeyFile), an age
// X25519 identity, mode 0600, in a directory only ferry's user may write.
// It is made at the first install (CreateKey) and never in place of one
// that existed: values sealed to a lost key cannot be opened again, and a
// new key would only hide that. A root installed before the key existed
// has none; the first value sealed there makes it (OpenKey, then, on
// ErrNoKey and with nothing sealed yet, CreateKey).
//
// OpenKey refuses a key file that someone other than ferry's user could
// have read or replaced: readable or writable by its group or others,
// owned by another user, a symlink or not a regular file, or in a keys
// directory that is a symlink, another user's, or writable by others.
//
// What this protects: a copy of state.db alone (a backup, a support
// bundle, a disk image of the state only) reveals no secret value. What it
// does not: whoever can read both state.db and the key file (root on the
// host, or a backup holding both) can open every value; and a service
// given a secret holds it in plain text.
//
// Errors wrap ErrNoKey, ErrKeyDamaged, ErrNotOpened or ErrKeyUnsafe, which
// the command line maps to its own exit codes.
package sealed

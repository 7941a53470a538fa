package sealed

import "errors"

// Errors callers act on; cmd/ferry maps each to an exit code.
var (
	// ErrNoKey: the appliance has no host key. Values sealed before
	// cannot be opened until the key is restored from backup.
	ErrNoKey = errors.New("the host key is missing")
	// ErrKeyDamaged: the key file is not one age X25519 identity.
	ErrKeyDamaged = errors.New("the host key is damaged")
	// ErrNotOpened: a sealed value does not open with the host key: it
	// was sealed to another key (another host's, or a key since
	// replaced), or it was altered.
	ErrNotOpened = errors.New("a sealed value does not open with the host key")
	// ErrKeyUnsafe: the key file, or its directory, could have been read
	// or replaced by someone other than ferry's user.
	ErrKeyUnsafe = errors.New("the host key is not kept safe")
)

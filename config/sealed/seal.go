package sealed

import (
	"bytes"
	"fmt"
	"io"

	"filippo.io/age"
)

// MaxSize bounds a value that can be sealed: a password, a token, a
// certificate and its key, not a data file.
const MaxSize = 1 << 20

// maxSealed bounds what Open reads: a sealed value of MaxSize bytes is
// under 1 KiB of header and 16 bytes a 64 KiB chunk longer than it.
const maxSealed = MaxSize + 64<<10

// Seal encrypts plaintext to the host key, in age's binary format. The
// result holds nothing about the value but its length (to 16 bytes a 64
// KiB chunk); sealing the same value twice gives different bytes.
func (k *Key) Seal(plaintext []byte) ([]byte, error) {
	if len(plaintext) > MaxSize {
		return nil, fmt.Errorf("seal a value of %d bytes: at most %d can be sealed", len(plaintext), MaxSize)
	}
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, k.id.Recipient())
	if err != nil {
		return nil, fmt.Errorf("seal a value with %s: %w", k, err)
	}
	if _, err := w.Write(plaintext); err != nil {
		return nil, fmt.Errorf("seal a value with %s: %w", k, err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("seal a value with %s: %w", k, err)
	}
	return buf.Bytes(), nil
}

// Open decrypts a value Seal made with this key. sealed comes from
// state.db and is not trusted: a value sealed to another key, or changed
// in any byte, cut short or extended, is refused with ErrNotOpened, and
// nothing of it is returned.
func (k *Key) Open(sealed []byte) ([]byte, error) {
	if len(sealed) > maxSealed {
		return nil, fmt.Errorf("%w (%s): it is %d bytes, more than a sealed value can be", ErrNotOpened, k, len(sealed))
	}
	r, err := age.Decrypt(bytes.NewReader(sealed), k.id)
	if err != nil {
		return nil, fmt.Errorf("%w (%s): it was sealed to another key, or altered: %w", ErrNotOpened, k, err)
	}
	out, err := io.ReadAll(io.LimitReader(r, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("%w (%s): it was altered: %w", ErrNotOpened, k, err)
	}
	if len(out) > MaxSize {
		return nil, fmt.Errorf("%w (%s): it holds more than %d bytes", ErrNotOpened, k, MaxSize)
	}
	return out, nil
}

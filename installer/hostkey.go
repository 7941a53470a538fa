package installer

import (
	"errors"
	"log/slog"

	"ferry/config/sealed"
	"ferry/installer/state"
)

// ensureHostKey makes, on a first install, the host key that seals the
// site's secret configuration values (config/sealed), so that it exists
// before any value is sealed and its file is ferry's from the start. A key
// already there (from a first install that failed) is checked and kept.
// Later installs leave an appliance installed before host keys existed
// to the configuration, which makes its key when it seals the first
// value: only it knows whether a missing key lost sealed values.
func ensureHostKey(db *state.DB, root string, first bool, log *slog.Logger) error {
	if !first {
		return nil
	}
	_, err := sealed.OpenKey(root)
	if !errors.Is(err, sealed.ErrNoKey) {
		return err
	}
	k, err := sealed.CreateKey(root)
	if err != nil {
		return err
	}
	log.Info("created the host key that seals secret configuration values", "file", k.Path(), "recipient", k.Recipient())
	_ = db.Audit("hostkey.created", map[string]string{"file": sealed.KeyPath, "recipient": k.Recipient()})
	return nil
}

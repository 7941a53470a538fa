package installer

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	"ferry/installer/state"
	"ferry/verify"
)

// Trust is a property of the host: the keys in its state, the threshold
// stored with them, and the key material rotation statements retired.
// What a command is given (--key, an installer's embedded keys,
// --threshold) sets it up on the first install and can never widen it
// afterwards; changing it is `ferry trust`, audited.

// Sentinel errors of the host's trust; the command line gives each an
// exit code.
var (
	// ErrRetiredKey means a key that a rotation statement took out of
	// the trust set was given again (--key, an installer's keys, `ferry
	// trust add`): only a later rotation statement can bring it back.
	ErrRetiredKey = errors.New("key retired by a rotation statement")
	// ErrKeyNotTrusted means --key named a key the host does not trust,
	// on a host that trusts keys: it would have extended the host's
	// trust for one command, unaudited.
	ErrKeyNotTrusted = errors.New("a key given with --key is not trusted by this host")
	// ErrSameKey means a key is trusted already in another encoding (a
	// PEM key and an OpenPGP certificate holding the same key material).
	ErrSameKey = errors.New("the same key is trusted in another encoding")
)

// stepTrust journals, when a first install begins, the keys and threshold
// it was given; the commit makes them the host's trust, and so does the
// recovery that finishes a commit a crash interrupted.
const stepTrust = "trust"

// trustRecord is the detail of a stepTrust journal record.
type trustRecord struct {
	Threshold int               `json:"threshold"`
	Keys      map[string][]byte `json:"keys"`
}

// installTrust is the trust an install verifies against, and the first
// install's keys and threshold (nil Keys: the host had trust already).
type installTrust struct {
	verify.TrustSet
	first trustRecord
}

// trustSet is the trust an install verifies against: the host's, or on a
// host that trusts no key yet, the keys given for this install. A key
// given on a host that trusts keys must be one of them (ErrKeyNotTrusted),
// and a key a rotation retired is never taken (ErrRetiredKey). The
// threshold is the host's; opts.Threshold may raise it for this install,
// and on the first install it becomes the host's.
func trustSet(db *state.DB, opts Options) (installTrust, error) {
	host, err := TrustSet(db)
	if err != nil {
		return installTrust{}, err
	}
	retired, err := db.RetiredKeys()
	if err != nil {
		return installTrust{}, err
	}
	var given []*verify.PublicKey
	for _, b := range opts.Keys {
		k, err := verify.ParsePublicKey(b)
		if err != nil {
			return installTrust{}, err
		}
		if err := notRetired(k, retired); err != nil {
			return installTrust{}, err
		}
		for _, g := range given {
			if g.ID() != k.ID() && g.SharesMaterial(k) {
				return installTrust{}, fmt.Errorf("%w: --key %s and --key %s are one key in two encodings: give it once", ErrSameKey, g, k)
			}
		}
		given = append(given, k)
	}
	ht := installTrust{TrustSet: host}
	if len(host.Keys) > 0 {
		for _, k := range given {
			if !slices.ContainsFunc(host.Keys, func(h *verify.PublicKey) bool { return h.ID() == k.ID() }) {
				return installTrust{}, fmt.Errorf("%w: --key %s: this host trusts %d keys already, and a key given with --key does not add to them; trust it with `ferry trust add` (audited, shown in `ferry trust list`)", ErrKeyNotTrusted, k, len(host.Keys))
			}
		}
	} else {
		if len(given) == 0 {
			return installTrust{}, fmt.Errorf("%w: add one with `ferry trust add KEY.pub` or give --key on the first install", ErrNoTrust)
		}
		ht.Keys = given
		ht.first = trustRecord{Threshold: max(1, opts.Threshold, host.Threshold), Keys: map[string][]byte{}}
		for i, k := range given {
			ht.first.Keys[k.ID()] = opts.Keys[i]
		}
	}
	// The host's threshold is the floor; --threshold may only raise it.
	ht.Threshold = max(opts.Threshold, host.Threshold)
	return ht, nil
}

// notRetired refuses k if any of its key material was retired.
func notRetired(k *verify.PublicKey, retired map[string]state.RetiredKey) error {
	for _, m := range k.Material() {
		if r, ok := retired[m]; ok {
			what := "key"
			if r.ID != k.ID() {
				what = "key material of key " + r.ID + ", which was"
			}
			return fmt.Errorf("%w: %s is the %s retired by rotation statement %d; it is never trusted again unless a later rotation statement names it", ErrRetiredKey, k, what, r.Sequence)
		}
	}
	return nil
}

// TrustSet is the host's trust: the keys in state.db, and the threshold
// and sequence number of the rotation statement they come from, if any.
func TrustSet(db *state.DB) (verify.TrustSet, error) {
	stored, err := db.Trust()
	if err != nil {
		return verify.TrustSet{}, err
	}
	var keys []*verify.PublicKey
	for _, id := range slices.Sorted(maps.Keys(stored)) {
		k, err := verify.ParsePublicKey(stored[id])
		if err != nil {
			return verify.TrustSet{}, fmt.Errorf("trusted key %s in the appliance state: %w", id, err)
		}
		keys = append(keys, k)
	}
	rot, err := db.TrustRotation()
	if err != nil {
		return verify.TrustSet{}, err
	}
	return verify.TrustSet{Keys: keys, Threshold: rot.Threshold, Sequence: rot.Sequence}, nil
}

// AddTrust makes the public key pub trusted by the host (`ferry trust
// add`, audited as trust.add). A key already trusted is a no-op; a key
// whose material a rotation retired is ErrRetiredKey; the same key
// material trusted under another id (another encoding) is ErrSameKey, so
// that one holder never counts as two keys.
func AddTrust(db *state.DB, pub []byte) (*verify.PublicKey, error) {
	k, err := verify.ParsePublicKey(pub)
	if err != nil {
		return nil, err
	}
	retired, err := db.RetiredKeys()
	if err != nil {
		return nil, err
	}
	if err := notRetired(k, retired); err != nil {
		return nil, err
	}
	host, err := TrustSet(db)
	if err != nil {
		return nil, err
	}
	for _, h := range host.Keys {
		if h.ID() != k.ID() && h.SharesMaterial(k) {
			return nil, fmt.Errorf("%w: %s holds the key material of the trusted %s; to trust it in this encoding instead, remove that one first (ferry trust remove %s)", ErrSameKey, k, h, h.ID())
		}
	}
	return k, db.AddTrust(k.ID(), pub)
}

// SetThreshold makes n the number of distinct trusted keys that must sign
// every bundle the host installs or updates to (`ferry trust threshold`,
// audited as trust.threshold). It is refused when the host trusts fewer
// than n distinct keys: such a host could install nothing.
func SetThreshold(db *state.DB, n int) error {
	host, err := TrustSet(db)
	if err != nil {
		return err
	}
	if d := host.DistinctKeys(); n < 1 || n > d {
		return fmt.Errorf("set the trust threshold: %w: %d, and the host trusts %d distinct keys", verify.ErrInvalidTrustSet, n, d)
	}
	return db.SetTrustThreshold(n)
}

// RemoveTrust stops trusting the key id (`ferry trust remove`, audited as
// trust.remove). It is refused when fewer distinct keys than the
// threshold would be left: lower the threshold first.
func RemoveTrust(db *state.DB, id string) error {
	host, err := TrustSet(db)
	if err != nil {
		return err
	}
	rest := host
	rest.Keys = slices.DeleteFunc(slices.Clone(host.Keys), func(k *verify.PublicKey) bool { return k.ID() == id })
	if host.Threshold > 1 && len(rest.Keys) < len(host.Keys) && rest.DistinctKeys() < host.Threshold {
		return fmt.Errorf("remove trusted key %s: %w: the host requires %d distinct keys and would trust %d; lower it first with `ferry trust threshold`", id, verify.ErrInvalidTrustSet, host.Threshold, rest.DistinctKeys())
	}
	return db.RemoveTrust(id)
}

// journalTrust records the first install's keys and threshold for the
// commit of txn; on a host that had trust already, no record.
func journalTrust(db *state.DB, txn state.Txn, first trustRecord) error {
	if len(first.Keys) == 0 {
		return nil
	}
	return recordDetail(db, txn, stepTrust, first)
}

// keepJournalledTrust makes the keys and threshold journalled for txn the
// host's, if any, in one state transaction that does nothing on a host
// that trusts keys already: a recovery may run it again after the commit
// went on to rotate them.
func keepJournalledTrust(db *state.DB, txn state.Txn) error {
	var r trustRecord
	if ok, err := readDetail(db, txn, stepTrust, &r); !ok {
		return err
	}
	return db.FirstTrust(r.Keys, r.Threshold)
}

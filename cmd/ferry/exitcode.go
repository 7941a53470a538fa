package main

import (
	"errors"
	"syscall"

	"ferry/bundle"
	"ferry/bundle/spec"
	"ferry/config"
	"ferry/config/sealed"
	"ferry/installer"
	"ferry/installer/migrate"
	"ferry/installer/state"
	"ferry/internal/atomicfile"
	"ferry/kube"
	"ferry/license"
	"ferry/rollout"
	"ferry/rollout/serve"
	"ferry/rollout/sites"
	"ferry/rollout/supervise"
	"ferry/verify"
)

// Exit codes, one per failure class; README.md lists them. Scripts on a
// disconnected site act on these, so they never change meaning.
const (
	exitOK         = 0
	exitError      = 1 // anything not classified below
	exitUsage      = 2 // bad command line
	exitSpec       = 3 // ferry.yaml is invalid
	exitSource     = 4 // a source could not be read or fetched
	exitKey        = 5 // a key could not be read, or the passphrase is wrong
	exitNoSig      = 10
	exitUntrusted  = 11
	exitBadSig     = 12
	exitThreshold  = 13
	exitRotation   = 14 // a key rotation statement is refused
	exitRetired    = 15 // a key a rotation statement retired was given again
	exitKeyExtend  = 16 // --key names a key the appliance does not trust
	exitSameKey    = 17 // the same key is trusted in another encoding
	exitNotBundle  = 20
	exitManifest   = 21
	exitTooLarge   = 22
	exitUnknown    = 23
	exitDuplicate  = 24
	exitOrder      = 25
	exitMissing    = 26
	exitForbidden  = 27
	exitDigest     = 28
	exitSize       = 29
	exitTruncated  = 30
	exitTrailing   = 31
	exitInflation  = 32
	exitHeader     = 33
	exitPacked     = 34 // the compressed form does not decode
	exitNewer      = 35 // the bundle's format is newer than this ferry reads
	exitLocked     = 40 // another ferry holds the appliance
	exitCorrupt    = 41 // state.db is damaged
	exitNotRoot    = 42 // --root is not a ferry appliance
	exitNoTrust    = 43 // no trusted keys
	exitNotNewer   = 44 // bundle not newer than the installed release
	exitConflict   = 45 // same version, another bundle
	exitCheck      = 46 // a post-install check failed
	exitNoSpace    = 47 // disk full
	exitDenied     = 48 // permission denied
	exitReadOnly   = 49 // read-only file system
	exitAudit      = 50 // the audit chain is broken
	exitSchema     = 51 // state.db was written by a newer ferry
	exitDrift      = 52 // ferry check found differences
	exitPlatform   = 53 // bundle images are for another platform
	exitPush       = 54 // installed, but --push-to failed
	exitNoRelease  = 55 // rollback target not kept on the host
	exitWrongBase  = 56 // update bundle for another base
	exitReplay     = 57 // update already applied
	exitMigration  = 58 // a database migration failed (rolled back)
	exitDBDrift    = 59 // an applied migration differs from the bundle's (bundle create --base: from the base's)
	exitDBLocked   = 60 // another ferry is migrating the database
	exitNoDown     = 61 // a migration to undo has no down file
	exitExpired    = 62 // the bundle is past its metadata.expires
	exitClockReset = 63 // a clock reset is refused
	exitUnsafe     = 64 // the root is writable by others, owned by another user, or has a symlink where ferry's directories go
	exitNoFinding  = 65 // compliance ack names no refusal that is an open finding
	exitAccount    = 67 // a service's user: or group: cannot be used on this host

	exitLicMalformed  = 70 // the licence file is not a licence
	exitLicUntrusted  = 71 // not signed by a licence key the bundle names
	exitLicBadSig     = 72 // the licence or its signature was changed
	exitLicNotYet     = 73 // the licence is not valid yet
	exitLicExpired    = 74 // the licence expired and its grace is over
	exitLicHost       = 75 // bound to another host (or no fingerprint)
	exitLicVersion    = 76 // the bundle's version is outside the licence
	exitLicProduct    = 77 // the licence is for another product
	exitLicNotNewer   = 78 // an older licence cannot replace a newer one
	exitLicRequired   = 79 // the bundle needs a licence and none was given
	exitNotEntitled   = 69 // a required (or asked-for) component is not licensed
	exitNoLicenseKeys = 68 // the release names no licence keys

	exitNotInstaller = 80 // the file carries no installer payload
	exitTrailer      = 81 // an installer's trailer is damaged
	exitKeysMismatch = 82 // an installer's embedded keys were changed
	exitPayload      = 83 // an installer's bundle is not the one its trailer names
	exitMissingPart  = 84 // a part of a split bundle is missing
	exitDamagedPart  = 85 // a part of a split bundle does not match its checksum
	exitDamagedInst  = 86 // an installer was cut short or has bytes appended

	exitNotServing = 90 // no ferry serve answers on the appliance's control socket
	exitRefused    = 91 // the rollout is not in a phase where the command applies
	exitRunning    = 92 // a service version already runs under another supervisor
	exitAborted    = 93 // --wait: the rollout was aborted and the release rolled back
	exitWaitTime   = 94 // --wait: the rollout did not end within --timeout

	exitConfigRequired = 100 // a required variable has no value (and no terminal to ask)
	exitConfigType     = 101 // a value is not of its variable's type
	exitConfigRange    = 102 // an int value is outside the variable's min..max
	exitConfigAllowed  = 103 // a value does not match the pattern, or is not one of the enum's values
	exitConfigInput    = 104 // --set, --values or a name given cannot be used

	exitNoHostKey     = 105 // the host key that opens sealed secrets is missing
	exitHostKeyDamage = 106 // the host key is damaged, or a sealed secret does not open with it
	exitHostKeyUnsafe = 107 // the host key could have been read or replaced by another user
	exitSecretOnArgs  = 108 // a secret's value was given on the command line (--set NAME=VALUE)

	exitSiteCert = 110 // a site certificate is missing, damaged or not of the site CA

	exitKubeImage   = 120 // a chart names an image the bundle does not carry
	exitKubeOwned   = 121 // a chart's resources exist and belong to someone else
	exitKubePending = 122 // a Helm release has an operation pending that ferry did not start
	exitKubeChart   = 123 // a chart did not deploy or become ready (rolled back)
)

// exitClasses maps sentinel errors to exit codes, most specific first.
var exitClasses = []struct {
	err  error
	code int
}{
	// Installer and part errors first: they come wrapped in bundle
	// errors when found mid-stream.
	{bundle.ErrDamagedInstaller, exitDamagedInst},
	{bundle.ErrNotInstaller, exitNotInstaller},
	{bundle.ErrDamagedTrailer, exitTrailer},
	{bundle.ErrKeysMismatch, exitKeysMismatch},
	{bundle.ErrPayloadMismatch, exitPayload},
	{bundle.ErrMissingPart, exitMissingPart},
	{bundle.ErrDamagedPart, exitDamagedPart},
	// Host key errors before atomicfile's and the system's, which they
	// wrap.
	{sealed.ErrNoKey, exitNoHostKey},
	{sealed.ErrKeyDamaged, exitHostKeyDamage},
	{sealed.ErrNotOpened, exitHostKeyDamage},
	{sealed.ErrKeyUnsafe, exitHostKeyUnsafe},
	// Licence errors before verify's: they wrap its signature errors.
	{license.ErrMalformed, exitLicMalformed},
	{license.ErrUntrusted, exitLicUntrusted},
	{license.ErrBadSignature, exitLicBadSig},
	{license.ErrNotYetValid, exitLicNotYet},
	{license.ErrExpired, exitLicExpired},
	{license.ErrWrongHost, exitLicHost},
	{license.ErrNoFingerprint, exitLicHost},
	{license.ErrVersionNotCovered, exitLicVersion},
	{license.ErrWrongProduct, exitLicProduct},
	{license.ErrNotNewer, exitLicNotNewer},
	{installer.ErrLicenseRequired, exitLicRequired},
	{installer.ErrNotEntitled, exitNotEntitled},
	{installer.ErrNoLicensePolicy, exitNoLicenseKeys},
	{installer.ErrBundleExpired, exitExpired},
	{installer.ErrClockReset, exitClockReset},
	{serve.ErrRolloutAborted, exitAborted},
	{serve.ErrWaitTimeout, exitWaitTime},
	{serve.ErrNotServing, exitNotServing},
	{sites.ErrCert, exitSiteCert},
	{rollout.ErrRefused, exitRefused},
	{supervise.ErrAlreadyRunning, exitRunning},
	{installer.ErrRetiredKey, exitRetired},
	{installer.ErrKeyNotTrusted, exitKeyExtend},
	{installer.ErrSameKey, exitSameKey},
	{verify.ErrRotation, exitRotation},
	{bundle.ErrRotationChain, exitRotation},
	{state.ErrStale, exitRotation},
	{verify.ErrNoSignature, exitNoSig},
	{verify.ErrBadSignature, exitBadSig},
	{verify.ErrUntrustedKey, exitUntrusted},
	{verify.ErrBelowThreshold, exitThreshold},
	{verify.ErrBadPassphrase, exitKey},
	{bundle.ErrNotABundle, exitNotBundle},
	{bundle.ErrNewerFormat, exitNewer},
	{bundle.ErrMalformedManifest, exitManifest},
	{bundle.ErrTooLarge, exitTooLarge},
	{bundle.ErrUnexpectedEntry, exitUnknown},
	{bundle.ErrDuplicateEntry, exitDuplicate},
	{bundle.ErrMisorderedEntry, exitOrder},
	{bundle.ErrMissingEntry, exitMissing},
	{bundle.ErrForbiddenEntry, exitForbidden},
	{bundle.ErrDigestMismatch, exitDigest},
	{bundle.ErrSizeMismatch, exitSize},
	{bundle.ErrTruncated, exitTruncated},
	{bundle.ErrTrailingData, exitTrailing},
	{bundle.ErrInflation, exitInflation},
	{bundle.ErrCorruptHeader, exitHeader},
	{bundle.ErrDamagedCompression, exitPacked},
	{state.ErrLocked, exitLocked},
	{state.ErrCorrupt, exitCorrupt},
	{state.ErrNotARoot, exitNotRoot},
	{state.ErrUnsafeRoot, exitUnsafe},
	{atomicfile.ErrLinkInPath, exitUnsafe},
	{state.ErrSchemaTooNew, exitSchema},
	{state.ErrAuditBroken, exitAudit},
	{installer.ErrNoTrust, exitNoTrust},
	{installer.ErrNotNewer, exitNotNewer},
	{installer.ErrConflict, exitConflict},
	{installer.ErrCheckFail, exitCheck},
	{installer.ErrDrift, exitDrift},
	{installer.ErrPlatform, exitPlatform},
	{installer.ErrNoRelease, exitNoRelease},
	{installer.ErrNoRevision, exitNoRelease},
	{installer.ErrWrongBase, exitWrongBase},
	{installer.ErrReplay, exitReplay},
	{installer.ErrServiceAccount, exitAccount},
	{installer.ErrNoFinding, exitNoFinding},
	{kube.ErrMissingImage, exitKubeImage},
	{kube.ErrNotOwned, exitKubeOwned},
	{kube.ErrPending, exitKubePending},
	{kube.ErrChart, exitKubeChart},
	{migrate.ErrMigration, exitMigration},
	{migrate.ErrDrift, exitDBDrift},
	{bundle.ErrMigrationChanged, exitDBDrift},
	{migrate.ErrLocked, exitDBLocked},
	{migrate.ErrIrreversible, exitNoDown},
	{syscall.ENOSPC, exitNoSpace},
	{syscall.EROFS, exitReadOnly},
	{syscall.EACCES, exitDenied},
	{syscall.EPERM, exitDenied},
	{errPush, exitPush},
	{errUsage, exitUsage},
	{errKey, exitKey},
	{bundle.ErrSource, exitSource},
	{config.ErrSecretOnCommandLine, exitSecretOnArgs},
	{config.ErrRequired, exitConfigRequired},
	{config.ErrType, exitConfigType},
	{config.ErrRange, exitConfigRange},
	{config.ErrNotAllowed, exitConfigAllowed},
	{config.ErrInput, exitConfigInput},
}

var (
	errUsage = errors.New("usage")
	errKey   = errors.New("key")
	errPush  = errors.New("push")
)

// keyError classes its error as a key that could not be read (exit 5,
// errKey) without adding a word to the message, which names the key file
// already: "release.pub: public key: unrecognised format", not "key: key
// release.pub: public key: …".
type keyError struct{ err error }

func (e keyError) Error() string   { return e.err.Error() }
func (e keyError) Unwrap() []error { return []error{e.err, errKey} }

// exitCode classifies err for the process exit status.
func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	var se *spec.Error
	if errors.As(err, &se) {
		return exitSpec
	}
	// A plan reports every refusal it finds; the first decides, as it
	// would have for apply, which stops there.
	// Refused values are all reported; the first decides.
	var values config.Errors
	if errors.As(err, &values) && len(values) > 0 {
		return exitCode(values[0])
	}
	var refused installer.Refusals
	if errors.As(err, &refused) && len(refused) > 0 {
		return exitCode(refused[0])
	}
	for _, c := range exitClasses {
		if errors.Is(err, c.err) {
			return c.code
		}
	}
	return exitError
}

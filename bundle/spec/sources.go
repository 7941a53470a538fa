package spec

// Sources checks what a spec refers to beyond the grammar of ferry.yaml:
// the contents of the files and the references it names, which only the
// packages that read them can judge (a chart, a migration directory, a
// public key, an image reference). Load reports each failure on the field
// it concerns, with its line, among the spec's other problems, so that a
// vendor still fixes a spec in one round. Paths given to the functions are
// resolved and known to stay inside the spec's directory. A nil function
// skips its check.
type Sources struct {
	// PublicKey checks the contents of a license.keys file.
	PublicKey func(data []byte) error
	// ImageReference checks an image source that is a registry reference
	// (neither oci: nor docker-archive:).
	ImageReference func(ref string) error
	// ImageName checks the name an image is served under, which carries no
	// registry host.
	ImageName func(name string) error
	// Migrations checks a directory of migrations.
	Migrations func(dir string) error
	// Chart checks a chart: a directory or an archive.
	Chart func(path string) error
}

// check runs fn on arg, if there is fn.
func (Sources) check(fn func(string) error, arg string) error {
	if fn == nil {
		return nil
	}
	return fn(arg)
}

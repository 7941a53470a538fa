package bundle

import (
	"github.com/google/go-containerregistry/pkg/name"

	"ferry/bundle/image"
	"ferry/bundle/spec"
	"ferry/verify"
)

// LoadSpec reads and validates ferry.yaml at path with spec.Load, and
// checks the sources it names the way a build reads them: licence keys
// parse as public keys, registry references are complete, served image
// names fit the appliance's registry, and migrations and charts load. All
// problems come back together as spec errors, with their lines.
func LoadSpec(path string) (*spec.Spec, error) {
	return spec.Load(path, specSources())
}

// specSources are the checks spec validation leaves to the packages that
// read a bundle's sources.
func specSources() spec.Sources {
	return spec.Sources{
		PublicKey: func(data []byte) error {
			_, err := verify.ParsePublicKey(data)
			return err
		},
		ImageReference: func(ref string) error {
			_, err := name.ParseReference(ref, name.StrictValidation)
			return err
		},
		ImageName: func(n string) error {
			_, err := image.ServedName(n, false)
			return err
		},
		Migrations: func(dir string) error {
			_, err := LoadMigrations(dir)
			return err
		},
		Chart: func(path string) error {
			_, err := LoadChart(path)
			return err
		},
	}
}

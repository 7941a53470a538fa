package bundle

import (
	"errors"
	"fmt"
	"slices"

	"ferry/verify"
)

// ErrRotationChain is returned by Build for rotation statements that a
// host could never walk to the end, or whose last set the signing keys do
// not satisfy: the bundle would be refused everywhere it is meant for.
var ErrRotationChain = errors.New("rotation statements do not lead to the signing keys")

// parseBuildRotations reads the statements a build is to carry, in
// sequence order, and checks that each after the first is signed by the
// set before it: the first is checked by each host against the keys it
// trusts.
func parseBuildRotations(files [][]byte) ([]*verify.Rotation, error) {
	if len(files) == 0 {
		return nil, nil
	}
	if len(files) > verify.MaxRotations {
		return nil, fmt.Errorf("build: %w: %d statements, at most %d", ErrRotationChain, len(files), verify.MaxRotations)
	}
	var rots []*verify.Rotation
	for i, f := range files {
		r, err := verify.ParseRotation(f)
		if err != nil {
			return nil, fmt.Errorf("build: rotation statement %d: %w", i+1, err)
		}
		rots = append(rots, r)
	}
	slices.SortFunc(rots, func(a, b *verify.Rotation) int { return a.Sequence - b.Sequence })
	first := rots[0]
	rest := make([][]byte, 0, len(rots)-1)
	for _, r := range rots[1:] {
		rest = append(rest, r.File)
	}
	_, applied, err := verify.WalkRotations(first.Trust(), rest)
	if err != nil {
		return nil, fmt.Errorf("build: %w: %w", ErrRotationChain, err)
	}
	if len(applied) != len(rest) {
		return nil, fmt.Errorf("build: %w: statement %d is given twice", ErrRotationChain, first.Sequence)
	}
	return rots, nil
}

// checkSignersSatisfy requires the signatures of a build that carries
// rotation statements to meet the last statement's set, as a host that
// walked them will require.
func checkSignersSatisfy(rots []*verify.Rotation, raw []byte, sigs []verify.Signature) error {
	if len(rots) == 0 {
		return nil
	}
	last := rots[len(rots)-1]
	if _, err := last.Trust().Verify(raw, sigs); err != nil {
		return fmt.Errorf("build: %w: the signing keys against rotation statement %d: %w", ErrRotationChain, last.Sequence, err)
	}
	return nil
}

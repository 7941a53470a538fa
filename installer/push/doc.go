// Package push copies the images of the appliance's content store into a
// registry the operator already runs (ferry install --push-to).
//
// Images keep their digests: manifests and indexes are pushed byte for byte
// as the store holds them, so signatures and digest pins made against the
// vendor's images still verify against the operator's registry. Blobs the
// registry already has are not uploaded again, and an image whose tag
// already names the same digest is not pushed at all, so pushing the same
// release twice costs a few HEAD requests.
package push

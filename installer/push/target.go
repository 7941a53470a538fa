package push

import (
	"fmt"
	"net"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"ferry/internal/oci"
)

// target is a parsed Options.Target.
type target struct {
	registry  name.Registry
	prefix    string // repository path prefix without slashes at the ends; may be empty
	plainHTTP bool   // plain HTTP is allowed: asked for, or the host is loopback
}

// parseTarget parses "host[:port][/prefix]".
func parseTarget(s string, plainHTTP bool) (target, error) {
	if s == "" {
		return target{}, fmt.Errorf("push target: empty; want host[:port][/prefix]")
	}
	if strings.Contains(s, "://") {
		return target{}, fmt.Errorf("push target %q: give host[:port][/prefix] without a scheme (ask for plain HTTP separately)", s)
	}
	host, prefix, _ := strings.Cut(strings.TrimRight(s, "/"), "/")
	if host == "" {
		return target{}, fmt.Errorf("push target %q: no registry host", s)
	}
	// The prefix is checked with the repository grammar rather than by
	// go-containerregistry's parser, which decides from the first path
	// component whether it is a registry host: a target host without a dot
	// or port ("registry/team") or a prefix with a dot ("team.a") would be
	// misread.
	if prefix != "" && !oci.ValidRepository(prefix) {
		return target{}, fmt.Errorf("push target %q: %q is not a valid repository path prefix (lowercase letters, digits, separators . _ - and /)", s, prefix)
	}
	t := target{prefix: prefix, plainHTTP: plainHTTP || isLoopback(host)}
	var opts []name.Option
	if t.plainHTTP {
		opts = append(opts, name.Insecure)
	}
	reg, err := name.NewRegistry(host, opts...)
	if err != nil {
		return target{}, fmt.Errorf("push target %q: %w", s, err)
	}
	t.registry = reg
	return t, nil
}

// isLoopback reports whether host (with or without a port) names this
// machine, where plain HTTP crosses no network.
func isLoopback(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ref returns the reference the image named image in the store, whose
// manifest has digest want, gets at the target: under its tag, or under its
// digest when the name has no tag.
func (t target) ref(image string, want v1.Hash) (name.Reference, error) {
	repo, tag, digest, err := splitImageName(image)
	if err != nil {
		return nil, err
	}
	if digest != "" && digest != want.String() {
		return nil, fmt.Errorf("image %s: the name says digest %s, the store holds %s", image, digest, want)
	}
	if t.prefix != "" {
		repo = t.prefix + "/" + repo
	}
	if len(repo) > oci.MaxRepositoryLength {
		return nil, fmt.Errorf("image %s: the repository path %q at %s is longer than %d characters", image, repo, t.registry.Name(), oci.MaxRepositoryLength)
	}
	r := t.registry.Repo(repo)
	if tag != "" {
		return r.Tag(tag), nil
	}
	return r.Digest(digest), nil
}

// splitImageName splits a store name, "repo:tag", "repo@digest" or
// "repo:tag@digest", into its parts. Every store name has a tag or a
// digest, and a digest is the sha256 the store holds content under.
func splitImageName(image string) (repo, tag, digest string, err error) {
	rn, err := oci.ParseRefName(image)
	if err != nil {
		return "", "", "", fmt.Errorf("image %s: %w", image, err)
	}
	if rn.Digest != "" && !oci.ValidDigest(rn.Digest) {
		return "", "", "", fmt.Errorf("image %s: %q is not a sha256 digest", image, rn.Digest)
	}
	return rn.Repository, rn.Tag, rn.Digest, nil
}

package push

import (
	"fmt"
	"net"
	"regexp"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// The grammar of the OCI distribution specification. The repository path is
// checked here rather than by go-containerregistry's parser, which decides
// from the first path component whether it is a registry host: a target
// host without a dot or port ("registry/team") or a prefix with a dot
// ("team.a") would be misread.
var (
	repoPathRE = regexp.MustCompile(`^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$`)
	tagRE      = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$`)
	digestRE   = regexp.MustCompile(`^sha256:[a-f0-9]{64}$`)
)

// maxRepoPath bounds a repository path, as the distribution registry does.
const maxRepoPath = 255

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
	if prefix != "" && (len(prefix) > maxRepoPath || !repoPathRE.MatchString(prefix)) {
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
	if len(repo) > maxRepoPath {
		return nil, fmt.Errorf("image %s: the repository path %q at %s is longer than %d characters", image, repo, t.registry.Name(), maxRepoPath)
	}
	r := t.registry.Repo(repo)
	if tag != "" {
		return r.Tag(tag), nil
	}
	return r.Digest(digest), nil
}

// splitImageName splits a store name, "repo:tag", "repo@digest" or
// "repo:tag@digest", into its parts. Every store name has a tag or a
// digest.
func splitImageName(image string) (repo, tag, digest string, err error) {
	repo = image
	if i := strings.IndexByte(repo, '@'); i >= 0 {
		repo, digest = repo[:i], repo[i+1:]
		if !digestRE.MatchString(digest) {
			return "", "", "", fmt.Errorf("image %s: %q is not a sha256 digest", image, digest)
		}
	}
	if i := strings.LastIndexByte(repo, ':'); i >= 0 && !strings.Contains(repo[i+1:], "/") {
		repo, tag = repo[:i], repo[i+1:]
		if !tagRE.MatchString(tag) {
			return "", "", "", fmt.Errorf("image %s: %q is not a valid tag", image, tag)
		}
	}
	if !repoPathRE.MatchString(repo) {
		return "", "", "", fmt.Errorf("image %s: %q is not a valid repository path", image, repo)
	}
	if tag == "" && digest == "" {
		return "", "", "", fmt.Errorf("image %s: the name has neither a tag nor a digest", image)
	}
	return repo, tag, digest, nil
}

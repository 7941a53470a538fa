package verify

// BundleReport is the --json output of ferry verify: which bundle was
// checked, who signed it and how much was read.
type BundleReport struct {
	Bundle   string   `json:"bundle"`
	Name     string   `json:"name"`
	Version  string   `json:"version"`
	Digest   string   `json:"digest"`
	SignedBy []string `json:"signedBy"`
	Entries  int      `json:"entries"`
	Bytes    int64    `json:"bytes"`
	// Deep is set when every compressed entry was also decompressed and
	// its content digest checked.
	Deep    bool    `json:"deep"`
	Seconds float64 `json:"seconds"`
	// Rotations are the sequence numbers of the key rotation statements
	// walked to reach the keys that signed the bundle.
	Rotations []int `json:"rotations,omitempty"`
	// EmbeddedKeys are the release keys of the installer being run, for
	// comparison with the ids the vendor publishes.
	EmbeddedKeys []string `json:"embeddedKeys,omitempty"`
}

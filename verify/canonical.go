package verify

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// CheckCanonical reports whether s.Data is exactly the form ferry's signers
// write for this signature. Both encodings carry bytes that no signature
// covers (base64 white space; OpenPGP armor checksums, headers, line
// breaks, packet length encodings and the 16-bit hash tag). Verify accepts
// such variations, as signature files saved by hand or made by gpg have
// them; a bundle, which must refuse any changed byte, also requires this.
// message is the signed message (the OpenPGP hash tag is checked against it).
func (s Signature) CheckCanonical(message []byte) error {
	if len(s.Data) > MaxSignatureSize {
		return fmt.Errorf("%w: %d bytes", ErrTooLarge, len(s.Data))
	}
	if s.Type != KeyOpenPGP {
		_, err := checkSigstoreEncoding(s.Data)
		return err
	}
	sig, err := readDetachedSignature(s.Data)
	if err != nil {
		return err
	}
	return checkOpenPGPEncoding(s.Data, message, sig)
}

// errNotCanonical reports a signature whose bytes differ from its canonical
// form even if its cryptographic content may be intact.
var errNotCanonical = errors.New("not in canonical form")

// checkSigstoreEncoding requires the base64 text to be exactly the
// standard encoding of the bytes it decodes to, with nothing around it.
func checkSigstoreEncoding(data []byte) ([]byte, error) {
	raw, err := base64.StdEncoding.Strict().DecodeString(string(data))
	if err != nil {
		return nil, fmt.Errorf("not base64 text: %w", err)
	}
	if base64.StdEncoding.EncodeToString(raw) != string(data) {
		return nil, errNotCanonical
	}
	return raw, nil
}

// checkOpenPGPEncoding requires the armored signature to re-encode to the
// same bytes, its packet to re-serialise to the same bytes, and its hash
// tag to match message.
func checkOpenPGPEncoding(data, message []byte, sig *packet.Signature) error {
	block, err := armor.Decode(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("OpenPGP armor: %w", err)
	}
	body, err := io.ReadAll(block.Body)
	if err != nil {
		return fmt.Errorf("OpenPGP armor: %w", err)
	}
	var armored bytes.Buffer
	w, err := armor.Encode(&armored, block.Type, block.Header)
	if err != nil {
		return err
	}
	if _, err := w.Write(body); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	armored.WriteByte('\n') // the signer ends the file with a newline
	if !bytes.Equal(armored.Bytes(), data) {
		return fmt.Errorf("%w: the armor differs from its standard encoding", errNotCanonical)
	}
	var packetBytes bytes.Buffer
	if err := sig.Serialize(&packetBytes); err != nil {
		return err
	}
	if !bytes.Equal(packetBytes.Bytes(), body) {
		return fmt.Errorf("%w: the signature packet differs from its standard encoding", errNotCanonical)
	}
	h, err := sig.PrepareVerify()
	if err != nil {
		return err
	}
	h.Write(message)
	if err := packet.VerifyHashTag(h, sig); err != nil {
		return err
	}
	return nil
}

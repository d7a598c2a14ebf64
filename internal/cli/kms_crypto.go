package cli

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"

	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/oracle/oci-go-sdk/v65/keymanagement"
	"github.com/spf13/cobra"
)

// warnArgv tells the user that a sensitive value given on the command line
// is visible to every user of the machine, and where to put it instead.
func warnArgv(cmd *cobra.Command, flag, fileFlag string) {
	fmt.Fprintf(cmd.ErrOrStderr(), "Warning: --%s on the command line is visible to other users of this machine (ps, /proc) and stays in your shell history; use --%s FILE, or --%s - to read stdin.\n",
		flag, fileFlag, fileFlag)
}

// sensitiveInput returns the base64 of a sensitive value given either as
// base64 on the command line (--flag, warned about) or as raw bytes in a
// file or on stdin (--fileFlag).
func sensitiveInput(cmd *cobra.Command, flag, value, fileFlag, path string) (string, error) {
	argv, file := cmd.Flags().Changed(flag), cmd.Flags().Changed(fileFlag)
	switch {
	case argv && file:
		return "", usageErrorf("pass --%s or --%s, not both", flag, fileFlag)
	case argv:
		warnArgv(cmd, flag, fileFlag)
		if _, err := base64.StdEncoding.DecodeString(value); err != nil {
			return "", usageErrorf("--%s must be base64 (the file form takes raw bytes)", flag)
		}
		return value, nil
	case file:
		b, err := readSecretInput(cmd, path)
		if err != nil {
			return "", err
		}
		return base64.StdEncoding.EncodeToString(b), nil
	}
	return "", usageErrorf("missing option --%s or --%s", fileFlag, flag)
}

func kmsCryptoCommand() *cobra.Command {
	sign, verify := cryptoSign(), cryptoVerify()
	return group("crypto", "Encrypt, decrypt, generate data keys, sign and verify (through the vault's crypto endpoint: --endpoint or --vault-id)",
		`  coffer kms crypto encrypt --vault-id $VAULT --key-id $KEY --plaintext-file ./data.bin --query 'data.ciphertext' --raw-output`,
		cryptoEncrypt(), cryptoDecrypt(), cryptoGenerateDEK(), sign, verify,
		group("signed-data", "Sign (the oci CLI's name for kms crypto sign)", "  coffer kms crypto signed-data sign --vault-id $VAULT --key-id $KEY --message $(printf hi | base64) --signing-algorithm ECDSA_SHA_256", cryptoSign()),
		group("verified-data", "Verify (the oci CLI's name for kms crypto verify)", "  coffer kms crypto verified-data verify --vault-id $VAULT --key-id $KEY --message $M --signature $S --signing-algorithm ECDSA_SHA_256", cryptoVerify()),
	)
}

// associatedData parses --associated-data.
func associatedData(v string) (map[string]string, error) {
	if v == "" {
		return nil, nil
	}
	var m map[string]string
	if err := parseJSONArg("associated-data", v, &m); err != nil {
		return nil, err
	}
	return m, nil
}

func cryptoEncrypt() *cobra.Command {
	var k cryptoKey
	var plaintext, plaintextFile, alg, aad string
	cmd := leaf("encrypt", "Encrypt data with a key (up to 4 KB)",
		`  coffer kms crypto encrypt --vault-id $VAULT --key-id $KEY --plaintext-file ./token.txt
  printf secret | coffer kms crypto encrypt --endpoint $CRYPTO --key-id $KEY --plaintext-file - --query data.ciphertext --raw-output`,
		hints{}, []string{"key-id"},
		func(cmd *cobra.Command, g *globals) error {
			pt, err := sensitiveInput(cmd, "plaintext", plaintext, "plaintext-file", plaintextFile)
			if err != nil {
				return err
			}
			ad, err := associatedData(aad)
			if err != nil {
				return err
			}
			return send(cmd, g, cryptoClient(&k.vaultID), func(ctx context.Context, c keymanagement.KmsCryptoClient) (response, error) {
				r, err := c.Encrypt(ctx, keymanagement.EncryptRequest{EncryptDataDetails: keymanagement.EncryptDataDetails{
					KeyId: &k.keyID, Plaintext: &pt, AssociatedData: ad, KeyVersionId: optString(cmd, "key-version-id", k.version),
					EncryptionAlgorithm: keymanagement.EncryptDataDetailsEncryptionAlgorithmEnum(alg)}})
				return response{data: r.EncryptedData}, err
			})
		})
	f := cmd.Flags()
	k.add(cmd, "the OCID of the key version (default: current)")
	f.StringVar(&plaintext, "plaintext", "", "the plaintext, base64 (visible to other users: prefer --plaintext-file)")
	f.StringVar(&plaintextFile, "plaintext-file", "", "a file holding the raw plaintext, or - for stdin")
	f.StringVar(&alg, "encryption-algorithm", "", "AES_256_GCM (default for AES), RSA_OAEP_SHA_1, RSA_OAEP_SHA_256")
	f.StringVar(&aad, "associated-data", "", `associated data as a JSON object of strings, e.g. '{"app":"billing"}'`)
	return cmd
}

func cryptoDecrypt() *cobra.Command {
	var k cryptoKey
	var ciphertext, alg, aad string
	var decode bool
	cmd := leaf("decrypt", "Decrypt data encrypted with a key",
		`  coffer kms crypto decrypt --vault-id $VAULT --key-id $KEY --ciphertext $CT --decode > token.txt`,
		hints{}, []string{"key-id", "ciphertext"},
		func(cmd *cobra.Command, g *globals) error {
			ad, err := associatedData(aad)
			if err != nil {
				return err
			}
			c, err := g.kmsCryptoClient(cmd.Context(), k.vaultID)
			if err != nil {
				return err
			}
			resp, err := c.Decrypt(cmd.Context(), keymanagement.DecryptRequest{DecryptDataDetails: keymanagement.DecryptDataDetails{
				KeyId: &k.keyID, Ciphertext: &ciphertext, AssociatedData: ad, KeyVersionId: optString(cmd, "key-version-id", k.version),
				EncryptionAlgorithm: keymanagement.DecryptDataDetailsEncryptionAlgorithmEnum(alg)}})
			if err != nil {
				return err
			}
			if decode {
				return writeDecoded(cmd, resp.Plaintext)
			}
			return g.print(cmd.OutOrStdout(), response{data: resp.DecryptedData})
		})
	f := cmd.Flags()
	k.add(cmd, "the OCID of the key version")
	f.StringVar(&ciphertext, "ciphertext", "", "the ciphertext returned by encrypt [required]")
	f.StringVar(&alg, "encryption-algorithm", "", "the algorithm used to encrypt")
	f.StringVar(&aad, "associated-data", "", "the associated data given to encrypt, as JSON")
	f.BoolVar(&decode, "decode", false, "print the decoded plaintext bytes instead of the JSON response")
	return cmd
}

// writeDecoded prints base64 content as raw bytes.
func writeDecoded(cmd *cobra.Command, b64 *string) error {
	if b64 == nil {
		return fmt.Errorf("the response holds no content")
	}
	b, err := base64.StdEncoding.DecodeString(*b64)
	if err != nil {
		return fmt.Errorf("the content is not valid base64: %w", err)
	}
	_, err = cmd.OutOrStdout().Write(b)
	return err
}

func cryptoGenerateDEK() *cobra.Command {
	var vaultID, keyID, shape, aad, include string
	cmd := leaf("generate-data-encryption-key", "Generate a data encryption key wrapped by a master key",
		`  coffer kms crypto generate-data-encryption-key --vault-id $VAULT --key-id $KEY --include-plaintext-key false --key-shape '{"algorithm":"AES","length":32}'`,
		hints{}, []string{"key-id", "include-plaintext-key", "key-shape"},
		func(cmd *cobra.Command, g *globals) error {
			var ks keymanagement.KeyShape
			if err := parseJSONArg("key-shape", shape, &ks); err != nil {
				return err
			}
			incl, err := strconv.ParseBool(include)
			if err != nil {
				return usageErrorf("--include-plaintext-key must be true or false, not %q", include)
			}
			ad, err := associatedData(aad)
			if err != nil {
				return err
			}
			return send(cmd, g, cryptoClient(&vaultID), func(ctx context.Context, c keymanagement.KmsCryptoClient) (response, error) {
				r, err := c.GenerateDataEncryptionKey(ctx, keymanagement.GenerateDataEncryptionKeyRequest{GenerateKeyDetails: keymanagement.GenerateKeyDetails{
					KeyId: &keyID, IncludePlaintextKey: common.Bool(incl), KeyShape: &ks, AssociatedData: ad}})
				return response{data: r.GeneratedKey}, err
			})
		})
	f := cmd.Flags()
	vaultIDFlag(cmd, &vaultID)
	f.StringVar(&keyID, "key-id", "", "the OCID of the master key [required]")
	f.StringVar(&include, "include-plaintext-key", "", "true to also return the plaintext data key, false for the wrapped key only [required]")
	_ = cmd.RegisterFlagCompletionFunc("include-plaintext-key", cobra.FixedCompletions([]string{"true", "false"}, cobra.ShellCompDirectiveNoFileComp))
	f.StringVar(&shape, "key-shape", "", `the data key's shape as JSON: {"algorithm":"AES","length":32} [required]`)
	f.StringVar(&aad, "associated-data", "", "associated data as JSON")
	return cmd
}

// cryptoKey is the key a crypto command uses: --key-id and
// --key-version-id, reached through --vault-id or --endpoint.
type cryptoKey struct{ vaultID, keyID, version string }

func (k *cryptoKey) add(cmd *cobra.Command, versionHelp string) {
	vaultIDFlag(cmd, &k.vaultID)
	cmd.Flags().StringVar(&k.keyID, "key-id", "", "the OCID of the key [required]")
	cmd.Flags().StringVar(&k.version, "key-version-id", "", versionHelp)
}

// message is the --message or --message-file of sign and verify, with
// --message-type and --signing-algorithm.
type message struct{ msg, file, msgType, alg string }

func (m *message) add(cmd *cobra.Command, algHelp string) {
	f := cmd.Flags()
	f.StringVar(&m.msg, "message", "", "the message or digest, base64")
	f.StringVar(&m.file, "message-file", "", "a file holding the raw message, or - for stdin")
	f.StringVar(&m.msgType, "message-type", "", "RAW (default) or DIGEST")
	f.StringVar(&m.alg, "signing-algorithm", "", algHelp)
}

// base64 is the message, base64-encoded as the API takes it: --message
// as given, or --message-file's raw bytes encoded. A message is not
// secret, so no warning.
func (m *message) base64(cmd *cobra.Command) (string, error) {
	switch {
	case cmd.Flags().Changed("message") && cmd.Flags().Changed("message-file"):
		return "", usageErrorf("pass --message or --message-file, not both")
	case cmd.Flags().Changed("message"):
		return m.msg, nil
	case cmd.Flags().Changed("message-file"):
		b, err := readSecretInput(cmd, m.file)
		if err != nil {
			return "", err
		}
		return base64.StdEncoding.EncodeToString(b), nil
	}
	return "", usageErrorf("missing option --message or --message-file")
}

// signLeaf builds sign and verify: read the message, call the crypto
// endpoint, print what it answers.
func signLeaf(use, short, example string, required []string, k *cryptoKey, m *message,
	call func(cmd *cobra.Command, c keymanagement.KmsCryptoClient, msg string) (any, error)) *cobra.Command {
	return leaf(use, short, example, hints{}, required,
		func(cmd *cobra.Command, g *globals) error {
			b64, err := m.base64(cmd)
			if err != nil {
				return err
			}
			return send(cmd, g, cryptoClient(&k.vaultID), func(_ context.Context, c keymanagement.KmsCryptoClient) (response, error) {
				v, err := call(cmd, c, b64)
				return response{data: v}, err
			})
		})
}

func cryptoSign() *cobra.Command {
	var k cryptoKey
	var m message
	cmd := signLeaf("sign", "Sign a message or digest with an asymmetric key",
		`  coffer kms crypto sign --vault-id $VAULT --key-id $KEY --message-file ./release.tar --signing-algorithm ECDSA_SHA_256 --query data.signature --raw-output`,
		[]string{"key-id", "signing-algorithm"}, &k, &m,
		func(cmd *cobra.Command, c keymanagement.KmsCryptoClient, msg string) (any, error) {
			r, err := c.Sign(cmd.Context(), keymanagement.SignRequest{SignDataDetails: keymanagement.SignDataDetails{
				KeyId: &k.keyID, Message: &msg, KeyVersionId: optString(cmd, "key-version-id", k.version),
				SigningAlgorithm: keymanagement.SignDataDetailsSigningAlgorithmEnum(m.alg),
				MessageType:      keymanagement.SignDataDetailsMessageTypeEnum(m.msgType)}})
			return r.SignedData, err
		})
	k.add(cmd, "the OCID of the key version")
	m.add(cmd, "e.g. ECDSA_SHA_256, SHA_256_RSA_PKCS_PSS [required]")
	return cmd
}

func cryptoVerify() *cobra.Command {
	var k cryptoKey
	var m message
	var sig string
	cmd := signLeaf("verify", "Verify a signature made with an asymmetric key",
		`  coffer kms crypto verify --vault-id $VAULT --key-id $KEY --key-version-id $KV --message-file ./release.tar \
      --signature $SIG --signing-algorithm ECDSA_SHA_256 --query 'data."is-signature-valid"'`,
		[]string{"key-id", "key-version-id", "signature", "signing-algorithm"}, &k, &m,
		func(cmd *cobra.Command, c keymanagement.KmsCryptoClient, msg string) (any, error) {
			r, err := c.Verify(cmd.Context(), keymanagement.VerifyRequest{VerifyDataDetails: keymanagement.VerifyDataDetails{
				KeyId: &k.keyID, KeyVersionId: &k.version, Message: &msg, Signature: &sig,
				SigningAlgorithm: keymanagement.VerifyDataDetailsSigningAlgorithmEnum(m.alg),
				MessageType:      keymanagement.VerifyDataDetailsMessageTypeEnum(m.msgType)}})
			return r.VerifiedData, err
		})
	k.add(cmd, "the OCID of the key version that signed [required]")
	m.add(cmd, "the algorithm used to sign [required]")
	cmd.Flags().StringVar(&sig, "signature", "", "the signature, base64 [required]")
	return cmd
}

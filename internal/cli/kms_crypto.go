package cli

import (
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
	var vaultID, keyID, kv, plaintext, plaintextFile, alg, aad string
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
			c, err := g.kmsCryptoClient(cmd.Context(), vaultID)
			if err != nil {
				return err
			}
			resp, err := c.Encrypt(cmd.Context(), keymanagement.EncryptRequest{EncryptDataDetails: keymanagement.EncryptDataDetails{
				KeyId: &keyID, Plaintext: &pt, AssociatedData: ad, KeyVersionId: optString(cmd, "key-version-id", kv),
				EncryptionAlgorithm: keymanagement.EncryptDataDetailsEncryptionAlgorithmEnum(alg)}})
			if err != nil {
				return err
			}
			return g.print(cmd.OutOrStdout(), response{data: resp.EncryptedData})
		})
	f := cmd.Flags()
	vaultIDFlag(cmd, &vaultID)
	f.StringVar(&keyID, "key-id", "", "the OCID of the key [required]")
	f.StringVar(&kv, "key-version-id", "", "the OCID of the key version (default: current)")
	f.StringVar(&plaintext, "plaintext", "", "the plaintext, base64 (visible to other users: prefer --plaintext-file)")
	f.StringVar(&plaintextFile, "plaintext-file", "", "a file holding the raw plaintext, or - for stdin")
	f.StringVar(&alg, "encryption-algorithm", "", "AES_256_GCM (default for AES), RSA_OAEP_SHA_1, RSA_OAEP_SHA_256")
	f.StringVar(&aad, "associated-data", "", `associated data as a JSON object of strings, e.g. '{"app":"billing"}'`)
	return cmd
}

func cryptoDecrypt() *cobra.Command {
	var vaultID, keyID, kv, ciphertext, alg, aad string
	var decode bool
	cmd := leaf("decrypt", "Decrypt data encrypted with a key",
		`  coffer kms crypto decrypt --vault-id $VAULT --key-id $KEY --ciphertext $CT --decode > token.txt`,
		hints{}, []string{"key-id", "ciphertext"},
		func(cmd *cobra.Command, g *globals) error {
			ad, err := associatedData(aad)
			if err != nil {
				return err
			}
			c, err := g.kmsCryptoClient(cmd.Context(), vaultID)
			if err != nil {
				return err
			}
			resp, err := c.Decrypt(cmd.Context(), keymanagement.DecryptRequest{DecryptDataDetails: keymanagement.DecryptDataDetails{
				KeyId: &keyID, Ciphertext: &ciphertext, AssociatedData: ad, KeyVersionId: optString(cmd, "key-version-id", kv),
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
	vaultIDFlag(cmd, &vaultID)
	f.StringVar(&keyID, "key-id", "", "the OCID of the key [required]")
	f.StringVar(&kv, "key-version-id", "", "the OCID of the key version")
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
			c, err := g.kmsCryptoClient(cmd.Context(), vaultID)
			if err != nil {
				return err
			}
			resp, err := c.GenerateDataEncryptionKey(cmd.Context(), keymanagement.GenerateDataEncryptionKeyRequest{GenerateKeyDetails: keymanagement.GenerateKeyDetails{
				KeyId: &keyID, IncludePlaintextKey: common.Bool(incl), KeyShape: &ks, AssociatedData: ad}})
			if err != nil {
				return err
			}
			return g.print(cmd.OutOrStdout(), response{data: resp.GeneratedKey})
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

func cryptoSign() *cobra.Command {
	var vaultID, keyID, kv, msg, msgFile, alg, msgType string
	cmd := leaf("sign", "Sign a message or digest with an asymmetric key",
		`  coffer kms crypto sign --vault-id $VAULT --key-id $KEY --message-file ./release.tar --signing-algorithm ECDSA_SHA_256 --query data.signature --raw-output`,
		hints{}, []string{"key-id", "signing-algorithm"},
		func(cmd *cobra.Command, g *globals) error {
			m, err := messageInput(cmd, msg, msgFile)
			if err != nil {
				return err
			}
			c, err := g.kmsCryptoClient(cmd.Context(), vaultID)
			if err != nil {
				return err
			}
			resp, err := c.Sign(cmd.Context(), keymanagement.SignRequest{SignDataDetails: keymanagement.SignDataDetails{
				KeyId: &keyID, Message: &m, KeyVersionId: optString(cmd, "key-version-id", kv),
				SigningAlgorithm: keymanagement.SignDataDetailsSigningAlgorithmEnum(alg),
				MessageType:      keymanagement.SignDataDetailsMessageTypeEnum(msgType)}})
			if err != nil {
				return err
			}
			return g.print(cmd.OutOrStdout(), response{data: resp.SignedData})
		})
	f := cmd.Flags()
	vaultIDFlag(cmd, &vaultID)
	f.StringVar(&keyID, "key-id", "", "the OCID of the key [required]")
	f.StringVar(&kv, "key-version-id", "", "the OCID of the key version")
	f.StringVar(&msg, "message", "", "the message or digest, base64")
	f.StringVar(&msgFile, "message-file", "", "a file holding the raw message, or - for stdin")
	f.StringVar(&alg, "signing-algorithm", "", "e.g. ECDSA_SHA_256, SHA_256_RSA_PKCS_PSS [required]")
	f.StringVar(&msgType, "message-type", "", "RAW (default) or DIGEST")
	return cmd
}

// messageInput is --message (base64) or --message-file (raw bytes). A
// message is not secret, so no warning.
func messageInput(cmd *cobra.Command, msg, file string) (string, error) {
	switch {
	case cmd.Flags().Changed("message") && cmd.Flags().Changed("message-file"):
		return "", usageErrorf("pass --message or --message-file, not both")
	case cmd.Flags().Changed("message"):
		return msg, nil
	case cmd.Flags().Changed("message-file"):
		b, err := readSecretInput(cmd, file)
		if err != nil {
			return "", err
		}
		return base64.StdEncoding.EncodeToString(b), nil
	}
	return "", usageErrorf("missing option --message or --message-file")
}

func cryptoVerify() *cobra.Command {
	var vaultID, keyID, kv, msg, msgFile, sig, alg, msgType string
	cmd := leaf("verify", "Verify a signature made with an asymmetric key",
		`  coffer kms crypto verify --vault-id $VAULT --key-id $KEY --key-version-id $KV --message-file ./release.tar \
      --signature $SIG --signing-algorithm ECDSA_SHA_256 --query 'data."is-signature-valid"'`,
		hints{}, []string{"key-id", "key-version-id", "signature", "signing-algorithm"},
		func(cmd *cobra.Command, g *globals) error {
			m, err := messageInput(cmd, msg, msgFile)
			if err != nil {
				return err
			}
			c, err := g.kmsCryptoClient(cmd.Context(), vaultID)
			if err != nil {
				return err
			}
			resp, err := c.Verify(cmd.Context(), keymanagement.VerifyRequest{VerifyDataDetails: keymanagement.VerifyDataDetails{
				KeyId: &keyID, KeyVersionId: &kv, Message: &m, Signature: &sig,
				SigningAlgorithm: keymanagement.VerifyDataDetailsSigningAlgorithmEnum(alg),
				MessageType:      keymanagement.VerifyDataDetailsMessageTypeEnum(msgType)}})
			if err != nil {
				return err
			}
			return g.print(cmd.OutOrStdout(), response{data: resp.VerifiedData})
		})
	f := cmd.Flags()
	vaultIDFlag(cmd, &vaultID)
	f.StringVar(&keyID, "key-id", "", "the OCID of the key [required]")
	f.StringVar(&kv, "key-version-id", "", "the OCID of the key version that signed [required]")
	f.StringVar(&msg, "message", "", "the message or digest, base64")
	f.StringVar(&msgFile, "message-file", "", "a file holding the raw message, or - for stdin")
	f.StringVar(&sig, "signature", "", "the signature, base64 [required]")
	f.StringVar(&alg, "signing-algorithm", "", "the algorithm used to sign [required]")
	f.StringVar(&msgType, "message-type", "", "RAW (default) or DIGEST")
	return cmd
}

package vaultsapi

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/oracle/oci-go-sdk/v65/vault"

	"github.com/coffer-vault/coffer/internal/ociapi"
	"github.com/coffer-vault/coffer/internal/secrets"
	"github.com/coffer-vault/coffer/internal/secrets/generate"
)

// The request bodies are decoded into these structs rather than the SDK's
// models: the SDK's polymorphic decoding drops a secretContent whose
// contentType it does not know (PLAIN), so the domain could not refuse it
// with a message that says to send base64, and the SDK types keep unknown
// discriminators only in unexported types.

// contentJSON is secretContent. Content is secret: the type never prints.
type contentJSON struct {
	ContentType string `json:"contentType"`
	Content     string `json:"content"`
	Name        string `json:"name"`
	Stage       string `json:"stage"`
}

// LogValue redacts the content.
func (contentJSON) LogValue() slog.Value { return slog.StringValue("[REDACTED]") }

// Format redacts the content for every fmt verb.
func (contentJSON) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte("[REDACTED]")) }

type ruleJSON struct {
	RuleType                                string     `json:"ruleType"`
	SecretVersionExpiryInterval             string     `json:"secretVersionExpiryInterval"`
	TimeOfAbsoluteExpiry                    *time.Time `json:"timeOfAbsoluteExpiry"`
	IsSecretContentRetrievalBlockedOnExpiry bool       `json:"isSecretContentRetrievalBlockedOnExpiry"`
	IsEnforcedOnDeletedSecretVersions       bool       `json:"isEnforcedOnDeletedSecretVersions"`
}

type targetJSON struct {
	TargetSystemType string `json:"targetSystemType"`
	AdbID            string `json:"adbId"`
	FunctionID       string `json:"functionId"`
}

type rotationJSON struct {
	TargetSystemDetails        *targetJSON `json:"targetSystemDetails"`
	RotationInterval           string      `json:"rotationInterval"`
	IsScheduledRotationEnabled bool        `json:"isScheduledRotationEnabled"`
}

type generationJSON struct {
	GenerationType     string `json:"generationType"`
	GenerationTemplate string `json:"generationTemplate"`
	PassphraseLength   int    `json:"passphraseLength"`
	SecretTemplate     string `json:"secretTemplate"`
}

type replicationJSON struct {
	ReplicationTargets []struct {
		TargetKeyID   string `json:"targetKeyId"`
		TargetRegion  string `json:"targetRegion"`
		TargetVaultID string `json:"targetVaultId"`
	} `json:"replicationTargets"`
	IsWriteForwardEnabled bool `json:"isWriteForwardEnabled"`
}

// secretJSON holds the fields CreateSecret and UpdateSecret share.
type secretJSON struct {
	DefinedTags             map[string]map[string]any `json:"definedTags"`
	Description             *string                   `json:"description"`
	FreeformTags            map[string]string         `json:"freeformTags"`
	Metadata                map[string]any            `json:"metadata"`
	SecretContent           *contentJSON              `json:"secretContent"`
	ReplicationConfig       *replicationJSON          `json:"replicationConfig"`
	RotationConfig          *rotationJSON             `json:"rotationConfig"`
	SecretGenerationContext *generationJSON           `json:"secretGenerationContext"`
	EnableAutoGeneration    *bool                     `json:"enableAutoGeneration"`
}

type createJSON struct {
	CompartmentID *string    `json:"compartmentId"`
	KeyID         *string    `json:"keyId"`
	SecretName    *string    `json:"secretName"`
	VaultID       *string    `json:"vaultId"`
	SecretRules   []ruleJSON `json:"secretRules"`
	secretJSON
}

type updateJSON struct {
	CurrentVersionNumber *int64 `json:"currentVersionNumber"`
	// SecretRules is a pointer: an empty list clears the rules, an absent
	// one keeps them.
	SecretRules *[]ruleJSON `json:"secretRules"`
	secretJSON
}

func (c *contentJSON) domain() *secrets.ContentDetails {
	if c == nil {
		return nil
	}
	return &secrets.ContentDetails{ContentType: c.ContentType, Content: c.Content, Name: c.Name, Stage: secrets.Stage(c.Stage)}
}

func rulesToDomain(in []ruleJSON) []secrets.Rule {
	if in == nil {
		return nil
	}
	out := make([]secrets.Rule, len(in))
	for i, r := range in {
		out[i] = secrets.Rule{
			Type: secrets.RuleType(r.RuleType), SecretVersionExpiryInterval: r.SecretVersionExpiryInterval,
			TimeOfAbsoluteExpiry:                    r.TimeOfAbsoluteExpiry,
			IsSecretContentRetrievalBlockedOnExpiry: r.IsSecretContentRetrievalBlockedOnExpiry,
			IsEnforcedOnDeletedSecretVersions:       r.IsEnforcedOnDeletedSecretVersions,
		}
	}
	return out
}

func (r *rotationJSON) domain() *secrets.RotationConfig {
	if r == nil {
		return nil
	}
	out := &secrets.RotationConfig{RotationInterval: r.RotationInterval, IsScheduledRotationEnabled: r.IsScheduledRotationEnabled}
	if t := r.TargetSystemDetails; t != nil {
		out.TargetSystemType = t.TargetSystemType
		switch t.TargetSystemType {
		case secrets.TargetADB:
			out.TargetID = t.AdbID
		case secrets.TargetFunction:
			out.TargetID = t.FunctionID
		default:
			out.TargetID = t.AdbID + t.FunctionID
		}
	}
	return out
}

func (g *generationJSON) domain() *secrets.GenerationContext {
	if g == nil {
		return nil
	}
	return &generate.Context{Type: g.GenerationType, Template: g.GenerationTemplate, PassphraseLength: g.PassphraseLength, SecretTemplate: g.SecretTemplate}
}

func (r *replicationJSON) domain() *secrets.ReplicationConfig {
	if r == nil {
		return nil
	}
	out := &secrets.ReplicationConfig{IsWriteForwardEnabled: r.IsWriteForwardEnabled}
	for _, t := range r.ReplicationTargets {
		out.Targets = append(out.Targets, secrets.ReplicationTarget{TargetRegion: t.TargetRegion, TargetVaultID: t.TargetVaultID, TargetKeyID: t.TargetKeyID})
	}
	return out
}

// RulesModel converts rules to the SDK's polymorphic rule types, whose
// MarshalJSON writes the ruleType discriminator.
func RulesModel(in []secrets.Rule) []vault.SecretRule {
	out := make([]vault.SecretRule, 0, len(in))
	for _, r := range in {
		switch r.Type {
		case secrets.RuleExpiry:
			out = append(out, vault.SecretExpiryRule{
				SecretVersionExpiryInterval:             ociapi.OptString(r.SecretVersionExpiryInterval),
				TimeOfAbsoluteExpiry:                    ociapi.OptTime(r.TimeOfAbsoluteExpiry),
				IsSecretContentRetrievalBlockedOnExpiry: common.Bool(r.IsSecretContentRetrievalBlockedOnExpiry),
			})
		case secrets.RuleReuse:
			out = append(out, vault.SecretReuseRule{IsEnforcedOnDeletedSecretVersions: common.Bool(r.IsEnforcedOnDeletedSecretVersions)})
		}
	}
	return out
}

func rotationModel(rc *secrets.RotationConfig) *vault.RotationConfig {
	if rc == nil {
		return nil
	}
	out := &vault.RotationConfig{RotationInterval: ociapi.OptString(rc.RotationInterval), IsScheduledRotationEnabled: common.Bool(rc.IsScheduledRotationEnabled)}
	switch rc.TargetSystemType {
	case secrets.TargetADB:
		out.TargetSystemDetails = vault.AdbTargetSystemDetails{AdbId: common.String(rc.TargetID)}
	case secrets.TargetFunction:
		out.TargetSystemDetails = vault.FunctionTargetSystemDetails{FunctionId: common.String(rc.TargetID)}
	}
	return out
}

func generationModel(g *secrets.GenerationContext) vault.SecretGenerationContext {
	if g == nil {
		return nil
	}
	tmpl := ociapi.OptString(g.SecretTemplate)
	switch g.Type {
	case generate.TypePassphrase:
		out := vault.PassphraseGenerationContext{SecretTemplate: tmpl, GenerationTemplate: vault.PassphraseGenerationContextGenerationTemplateEnum(g.Template)}
		if g.PassphraseLength > 0 {
			out.PassphraseLength = common.Int(g.PassphraseLength)
		}
		return out
	case generate.TypeSSHKey:
		return vault.SshKeyGenerationContext{SecretTemplate: tmpl, GenerationTemplate: vault.SshKeyGenerationContextGenerationTemplateEnum(g.Template)}
	case generate.TypeBytes:
		return vault.BytesGenerationContext{SecretTemplate: tmpl, GenerationTemplate: vault.BytesGenerationContextGenerationTemplateEnum(g.Template)}
	}
	return nil
}

// SecretModel converts a secret to the SDK's model.
func SecretModel(s *secrets.Secret) vault.Secret {
	ff, def := ociapi.Tags(s.FreeformTags, s.DefinedTags)
	m := vault.Secret{
		Id: common.String(s.ID), CompartmentId: common.String(s.CompartmentID), VaultId: common.String(s.VaultID),
		KeyId: common.String(s.KeyID), SecretName: common.String(s.Name), Description: ociapi.OptString(s.Description),
		Metadata: s.Metadata, FreeformTags: ff, DefinedTags: def,
		LifecycleState: vault.SecretLifecycleStateEnum(s.LifecycleState), LifecycleDetails: ociapi.OptString(s.LifecycleDetails),
		TimeCreated: &common.SDKTime{Time: s.TimeCreated}, TimeOfDeletion: ociapi.OptTime(s.TimeOfDeletion),
		SecretRules: RulesModel(s.Rules), RotationConfig: rotationModel(s.RotationConfig),
		RotationStatus: vault.SecretRotationStatusEnum(s.RotationStatus), LastRotationTime: ociapi.OptTime(s.LastRotationTime),
		NextRotationTime: ociapi.OptTime(s.NextRotationTime), SecretGenerationContext: generationModel(s.GenerationContext),
		IsAutoGenerationEnabled: common.Bool(s.IsAutoGenerationEnabled), TimeOfCurrentVersionExpiry: ociapi.OptTime(s.TimeOfCurrentVersionExpiry),
		ReplicationConfig: replicationModel(s.ReplicationConfig), IsReplica: common.Bool(s.IsReplica),
	}
	if si := s.SourceRegionInformation; si != nil {
		m.SourceRegionInformation = &vault.SourceRegionInformation{
			SourceRegion: common.String(si.SourceRegion), SourceVaultId: common.String(si.SourceVaultID), SourceKeyId: common.String(si.SourceKeyID),
		}
	}
	if s.CurrentVersionNumber > 0 {
		m.CurrentVersionNumber = common.Int64(s.CurrentVersionNumber)
	}
	return m
}

func summaryModel(s *secrets.Secret) vault.SecretSummary {
	m := SecretModel(s)
	return vault.SecretSummary{
		Id: m.Id, CompartmentId: m.CompartmentId, VaultId: m.VaultId, KeyId: m.KeyId, SecretName: m.SecretName,
		Description: m.Description, FreeformTags: m.FreeformTags, DefinedTags: m.DefinedTags,
		LifecycleState: vault.SecretSummaryLifecycleStateEnum(s.LifecycleState), LifecycleDetails: m.LifecycleDetails,
		TimeCreated: m.TimeCreated, TimeOfDeletion: m.TimeOfDeletion, RotationConfig: m.RotationConfig,
		RotationStatus: m.RotationStatus, LastRotationTime: m.LastRotationTime, NextRotationTime: m.NextRotationTime,
		SecretGenerationContext: m.SecretGenerationContext, IsAutoGenerationEnabled: m.IsAutoGenerationEnabled,
		TimeOfCurrentVersionExpiry: m.TimeOfCurrentVersionExpiry, IsReplica: m.IsReplica,
		ReplicationConfig: m.ReplicationConfig, SourceRegionInformation: m.SourceRegionInformation,
		SystemTags: map[string]map[string]any{},
	}
}

func replicationModel(c *secrets.ReplicationConfig) *vault.ReplicationConfig {
	if c == nil {
		return nil
	}
	out := &vault.ReplicationConfig{ReplicationTargets: []vault.ReplicationTarget{}, IsWriteForwardEnabled: common.Bool(c.IsWriteForwardEnabled)}
	for _, t := range c.Targets {
		out.ReplicationTargets = append(out.ReplicationTargets, vault.ReplicationTarget{
			TargetRegion: common.String(t.TargetRegion), TargetVaultId: common.String(t.TargetVaultID), TargetKeyId: common.String(t.TargetKeyID),
		})
	}
	return out
}

func versionModel(v *secrets.SecretVersion) vault.SecretVersion {
	return vault.SecretVersion{
		SecretId: common.String(v.SecretID), VersionNumber: common.Int64(v.VersionNumber), Name: ociapi.OptString(v.Name),
		ContentType: vault.SecretVersionContentTypeBase64, Stages: ociapi.Enums[vault.SecretVersionStagesEnum](v.Stages), TimeCreated: &common.SDKTime{Time: v.TimeCreated},
		TimeOfDeletion: ociapi.OptTime(v.TimeOfDeletion), TimeOfCurrentVersionExpiry: ociapi.OptTime(v.TimeOfExpiry),
		IsContentAutoGenerated: common.Bool(v.IsContentAutoGenerated),
	}
}

func versionSummaryModel(v *secrets.SecretVersion) vault.SecretVersionSummary {
	return vault.SecretVersionSummary{
		SecretId: common.String(v.SecretID), VersionNumber: common.Int64(v.VersionNumber), Name: ociapi.OptString(v.Name),
		ContentType: vault.SecretVersionSummaryContentTypeBase64, Stages: ociapi.Enums[vault.SecretVersionSummaryStagesEnum](v.Stages), TimeCreated: &common.SDKTime{Time: v.TimeCreated},
		TimeOfDeletion: ociapi.OptTime(v.TimeOfDeletion), TimeOfExpiry: ociapi.OptTime(v.TimeOfExpiry),
		IsContentAutoGenerated: common.Bool(v.IsContentAutoGenerated), SystemTags: map[string]map[string]any{},
	}
}

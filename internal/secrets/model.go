package secrets

import (
	"time"

	"github.com/coffer-vault/coffer/internal/secrets/generate"
)

// LifecycleState is a secret's lifecycle state (SecretLifecycleStateEnum).
type LifecycleState string

// Lifecycle states Coffer uses; CREATING, DELETING, SCHEDULING_DELETION,
// CANCELLING_DELETION and FAILED exist in the SDK but Coffer's transitions
// are synchronous and never show them.
const (
	StateActive          LifecycleState = "ACTIVE"
	StateUpdating        LifecycleState = "UPDATING"
	StatePendingDeletion LifecycleState = "PENDING_DELETION"
	StateDeleted         LifecycleState = "DELETED"
)

// Stage is a version stage (SecretVersionStagesEnum).
type Stage string

// Version stages.
const (
	StageCurrent    Stage = "CURRENT"
	StagePending    Stage = "PENDING"
	StageLatest     Stage = "LATEST"
	StagePrevious   Stage = "PREVIOUS"
	StageDeprecated Stage = "DEPRECATED"
)

// RotationStatus is the SDK's SecretRotationStatusEnum.
type RotationStatus string

// Rotation statuses Coffer reports.
const (
	RotationNotEnabled RotationStatus = "NOT_ENABLED"
	RotationScheduled  RotationStatus = "SCHEDULED"
)

// ContentTypeBase64 is the only content type.
const ContentTypeBase64 = "BASE64"

// RuleType is the ruleType discriminator of a secret rule.
type RuleType string

// Rule types.
const (
	RuleExpiry RuleType = "SECRET_EXPIRY_RULE"
	RuleReuse  RuleType = "SECRET_REUSE_RULE"
)

// Rule is one secret rule; the fields used depend on Type.
type Rule struct {
	Type RuleType `json:"ruleType"`
	// SECRET_EXPIRY_RULE: ISO 8601 days, P1D..P90D; restarts with each version.
	SecretVersionExpiryInterval string `json:"secretVersionExpiryInterval,omitempty"`
	// SECRET_EXPIRY_RULE: absolute expiry, 1..365 days ahead when set.
	TimeOfAbsoluteExpiry *time.Time `json:"timeOfAbsoluteExpiry,omitempty"`
	// SECRET_EXPIRY_RULE: expired content cannot be read until the rule changes.
	IsSecretContentRetrievalBlockedOnExpiry bool `json:"isSecretContentRetrievalBlockedOnExpiry,omitempty"`
	// SECRET_REUSE_RULE: also refuse content of deleted versions.
	IsEnforcedOnDeletedSecretVersions bool `json:"isEnforcedOnDeletedSecretVersions,omitempty"`
}

// GenerationContext says how content is generated (SecretGenerationContext).
type GenerationContext = generate.Context

// Target system types of a rotation config.
const (
	TargetADB      = "ADB"
	TargetFunction = "FUNCTION"
)

// RotationConfig is stored and reported. Coffer cannot reach ADB or FUNCTION
// target systems: RotateSecret refuses a secret that names one (400). A
// rotation config with no target system (TargetSystemType "") is a Coffer
// extension for auto-generated secrets: Coffer itself generates the content.
type RotationConfig struct {
	TargetSystemType string `json:"targetSystemType,omitempty"`
	// TargetID is adbId or functionId.
	TargetID                   string `json:"targetId,omitempty"`
	RotationInterval           string `json:"rotationInterval,omitempty"`
	IsScheduledRotationEnabled bool   `json:"isScheduledRotationEnabled,omitempty"`
}

// ReplicationConfig names the regions a secret is replicated to
// (docs/replication.md). A config with no targets turns replication off,
// which deletes the replicas.
type ReplicationConfig struct {
	Targets []ReplicationTarget `json:"replicationTargets"`
	// IsWriteForwardEnabled is refused when true: see docs/replication.md.
	IsWriteForwardEnabled bool `json:"isWriteForwardEnabled,omitempty"`
}

// ReplicationTarget is one cross-region replica target: a vault and an AES
// key of that vault in a peer region.
type ReplicationTarget struct {
	TargetRegion  string `json:"targetRegion"`
	TargetVaultID string `json:"targetVaultId"`
	TargetKeyID   string `json:"targetKeyId"`
}

// SourceRegionInformation is where a replica's source secret lives.
type SourceRegionInformation struct {
	SourceRegion  string `json:"sourceRegion"`
	SourceVaultID string `json:"sourceVaultId"`
	SourceKeyID   string `json:"sourceKeyId"`
}

// Secret is a secret's metadata; it never holds content.
type Secret struct {
	ID                         string                    `json:"id"`
	CompartmentID              string                    `json:"compartmentId"`
	VaultID                    string                    `json:"vaultId"`
	KeyID                      string                    `json:"keyId"`
	Name                       string                    `json:"secretName"`
	Description                string                    `json:"description,omitempty"`
	Metadata                   map[string]any            `json:"metadata,omitempty"`
	FreeformTags               map[string]string         `json:"freeformTags,omitempty"`
	DefinedTags                map[string]map[string]any `json:"definedTags,omitempty"`
	LifecycleState             LifecycleState            `json:"lifecycleState"`
	LifecycleDetails           string                    `json:"lifecycleDetails,omitempty"`
	TimeCreated                time.Time                 `json:"timeCreated"`
	TimeOfDeletion             *time.Time                `json:"timeOfDeletion,omitempty"`
	Rules                      []Rule                    `json:"secretRules,omitempty"`
	RotationConfig             *RotationConfig           `json:"rotationConfig,omitempty"`
	RotationStatus             RotationStatus            `json:"rotationStatus,omitempty"`
	LastRotationTime           *time.Time                `json:"lastRotationTime,omitempty"`
	NextRotationTime           *time.Time                `json:"nextRotationTime,omitempty"`
	GenerationContext          *GenerationContext        `json:"secretGenerationContext,omitempty"`
	IsAutoGenerationEnabled    bool                      `json:"isAutoGenerationEnabled"`
	CurrentVersionNumber       int64                     `json:"currentVersionNumber"`
	TimeOfCurrentVersionExpiry *time.Time                `json:"timeOfCurrentVersionExpiry,omitempty"`
	ReplicationConfig          *ReplicationConfig        `json:"replicationConfig,omitempty"`
	// IsReplica marks a read-only replica of a secret of another region,
	// described by SourceRegionInformation.
	IsReplica               bool                     `json:"isReplica,omitempty"`
	SourceRegionInformation *SourceRegionInformation `json:"sourceRegionInformation,omitempty"`
	// ETag changes on every write; the wire layer returns it as the etag header.
	ETag string `json:"etag"`
}

// SecretVersion is a version's metadata (SecretVersion, SecretVersionSummary
// and SecretBundleVersionSummary all derive from it).
type SecretVersion struct {
	SecretID      string
	VersionNumber int64
	Name          string
	ContentType   string
	Stages        []Stage
	TimeCreated   time.Time
	// TimeOfDeletion is when the version is (or was) deleted, when scheduled.
	TimeOfDeletion *time.Time
	// TimeOfExpiry is the expiry from the secret's expiry rule, if any (the
	// SDK calls it timeOfCurrentVersionExpiry on SecretVersion).
	TimeOfExpiry           *time.Time
	IsContentAutoGenerated bool
	ETag                   string
}

// Bundle is a version with its content (SecretBundle).
type Bundle struct {
	SecretID       string
	VersionNumber  int64
	VersionName    string
	Content        Content
	TimeCreated    time.Time
	TimeOfDeletion *time.Time
	TimeOfExpiry   *time.Time
	Stages         []Stage
	Metadata       map[string]any
	ETag           string
}

// CreateSecretRequest is CreateSecretDetails plus the opc-retry-token.
type CreateSecretRequest struct {
	CompartmentID        string
	VaultID              string
	KeyID                string
	Name                 string
	Description          string
	Metadata             map[string]any
	FreeformTags         map[string]string
	DefinedTags          map[string]map[string]any
	Content              *ContentDetails
	Rules                []Rule
	RotationConfig       *RotationConfig
	ReplicationConfig    *ReplicationConfig
	GenerationContext    *GenerationContext
	EnableAutoGeneration bool
	RetryToken           string
}

// UpdateSecretRequest is UpdateSecretDetails plus headers. Nil fields are
// left unchanged; Rules set to a pointer to an empty slice clears the rules.
type UpdateSecretRequest struct {
	SecretID             string
	CurrentVersionNumber *int64
	Description          *string
	Metadata             map[string]any
	FreeformTags         map[string]string
	DefinedTags          map[string]map[string]any
	Content              *ContentDetails
	Rules                *[]Rule
	RotationConfig       *RotationConfig
	ReplicationConfig    *ReplicationConfig
	GenerationContext    *GenerationContext
	EnableAutoGeneration *bool
	IfMatch              string
	RetryToken           string
}

// SortBy values of the list operations.
const (
	SortByTimeCreated   = "TIMECREATED"
	SortByName          = "NAME"
	SortByVersionNumber = "VERSION_NUMBER"
	SortAsc             = "ASC"
	SortDesc            = "DESC"
)

// ListSecretsRequest holds ListSecrets' query parameters.
type ListSecretsRequest struct {
	CompartmentID  string
	Name           string
	VaultID        string
	LifecycleState LifecycleState
	SortBy         string // TIMECREATED (default) | NAME
	SortOrder      string // ASC | DESC; default DESC for TIMECREATED, ASC for NAME
	Limit          int    // 0 means DefaultPageSize
	Page           string
}

// ListVersionsRequest holds ListSecretVersions' and ListSecretBundleVersions'
// query parameters.
type ListVersionsRequest struct {
	SecretID  string
	SortBy    string // VERSION_NUMBER
	SortOrder string // default DESC
	Limit     int
	Page      string
}

// BundleSelector picks a version; with all fields zero it picks CURRENT.
// At most one may be set.
type BundleSelector struct {
	VersionNumber int64
	VersionName   string
	Stage         Stage
}

// ScheduleDeletionRequest is ScheduleSecretDeletion and
// ScheduleSecretVersionDeletion (VersionNumber set for the latter).
type ScheduleDeletionRequest struct {
	SecretID       string
	VersionNumber  int64
	TimeOfDeletion *time.Time
	IfMatch        string
}

// ChangeCompartmentRequest is ChangeSecretCompartment.
type ChangeCompartmentRequest struct {
	SecretID      string
	CompartmentID string
	IfMatch       string
	RetryToken    string
}

package cli

import (
	"context"

	"github.com/oracle/oci-go-sdk/v65/keymanagement"
	"github.com/spf13/cobra"
)

// The vault replica commands (docs/replication.md#vault-replicas).

func vaultCreateReplica() *cobra.Command {
	var id, region string
	cmd := leaf("create-replica", "Replicate a vault, with its keys, to a peer region (one replica region per vault)",
		`  coffer kms management vault create-replica --vault-id $VAULT --replica-region eu-b --query '"opc-work-request-id"' --raw-output`,
		hints{}, []string{"vault-id", "replica-region"},
		func(cmd *cobra.Command, g *globals) error {
			return send(cmd, g, kmsVaultClient, func(ctx context.Context, c keymanagement.KmsVaultClient) (response, error) {
				r, err := c.CreateVaultReplica(ctx, keymanagement.CreateVaultReplicaRequest{VaultId: &id,
					CreateVaultReplicaDetails: keymanagement.CreateVaultReplicaDetails{ReplicaRegion: &region}})
				return response{workRequest: r.OpcWorkRequestId}, err
			})
		})
	cmd.Flags().StringVar(&id, "vault-id", "", "the OCID of the vault [required]")
	cmd.Flags().StringVar(&region, "replica-region", "", "the peer region to replicate to [required]")
	return cmd
}

func vaultDeleteReplica() *cobra.Command {
	var id, region string
	cmd := leaf("delete-replica", "Delete a vault's replica in a peer region",
		`  coffer kms management vault delete-replica --vault-id $VAULT --replica-region eu-b`,
		hints{}, []string{"vault-id", "replica-region"},
		func(cmd *cobra.Command, g *globals) error {
			return send(cmd, g, kmsVaultClient, func(ctx context.Context, c keymanagement.KmsVaultClient) (response, error) {
				r, err := c.DeleteVaultReplica(ctx, keymanagement.DeleteVaultReplicaRequest{VaultId: &id,
					DeleteVaultReplicaDetails: keymanagement.DeleteVaultReplicaDetails{ReplicaRegion: &region}})
				return response{workRequest: r.OpcWorkRequestId}, err
			})
		})
	cmd.Flags().StringVar(&id, "vault-id", "", "the OCID of the vault [required]")
	cmd.Flags().StringVar(&region, "replica-region", "", "the region of the replica [required]")
	return cmd
}

func vaultListReplicas() *cobra.Command {
	var id string
	cmd := leaf("list-replicas", "List a vault's replicas: region, status and endpoints there",
		`  coffer kms management vault list-replicas --vault-id $VAULT --query 'data[].{region:region,status:status}' --output table`,
		hints{}, []string{"vault-id"},
		func(cmd *cobra.Command, g *globals) error {
			return send(cmd, g, kmsVaultClient, func(ctx context.Context, c keymanagement.KmsVaultClient) (response, error) {
				r, err := c.ListVaultReplicas(ctx, keymanagement.ListVaultReplicasRequest{VaultId: &id})
				return response{data: r.Items, nextPage: r.OpcNextPage}, err
			})
		})
	cmd.Flags().StringVar(&id, "vault-id", "", "the OCID of the vault [required]")
	return cmd
}

func vaultReplicationStatus() *cobra.Command {
	var vaultID, replicationID string
	cmd := leaf("get-replication-status", "Show whether a replica operation has reached each replica region (REPLICATING or REPLICATED)",
		`  coffer kms management vault get-replication-status --vault-id $VAULT --replication-id $REPLICATION`,
		hints{}, []string{"replication-id"},
		func(cmd *cobra.Command, g *globals) error {
			c, err := g.kmsManagementClient(cmd.Context(), vaultID)
			if err != nil {
				return err
			}
			return send(cmd, g, func(*cobra.Command, *globals) (keymanagement.KmsManagementClient, error) { return c, nil },
				func(ctx context.Context, c keymanagement.KmsManagementClient) (response, error) {
					r, err := c.GetReplicationStatus(ctx, keymanagement.GetReplicationStatusRequest{ReplicationId: &replicationID})
					return response{data: r.ReplicationStatusDetails}, err
				})
		})
	vaultIDFlag(cmd, &vaultID)
	cmd.Flags().StringVar(&replicationID, "replication-id", "", "the replication id (the opc-work-request-id of create-replica or delete-replica) [required]")
	return cmd
}

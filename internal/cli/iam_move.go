package cli

import (
	"context"

	"github.com/oracle/oci-go-sdk/v65/identity"
	"github.com/spf13/cobra"
)

// The `oci iam` commands beyond the records: moving a compartment, the work
// requests that record moves and deletions, and the region's layout
// (regions, availability domains, fault domains).

// compartmentMove is `coffer iam compartment move`: it prints the work
// request, which has already succeeded (Coffer moves before it answers).
func compartmentMove() *cobra.Command {
	var id, target, ifMatch string
	cmd := leaf("move", "Move a compartment, with everything in it, under another parent",
		`  coffer iam compartment move --compartment-id $COMP --target-compartment-id $NEW_PARENT
  coffer iam work-request get --work-request-id "$(coffer iam compartment move --compartment-id $COMP \
      --target-compartment-id $NEW_PARENT --query '"opc-work-request-id"' --raw-output)"

Access follows the new place: policies of the old parent stop applying,
those of the new parent apply. Statements that name the compartment by a
path in policies attached to a shared ancestor are rewritten; elsewhere
they no longer resolve (docs/oci-behaviours.md, "Moving a compartment").`,
		hints{}, []string{"compartment-id", "target-compartment-id"},
		func(cmd *cobra.Command, g *globals) error {
			return send(cmd, g, identityClient, func(ctx context.Context, c identity.IdentityClient) (response, error) {
				r, err := c.MoveCompartment(ctx, identity.MoveCompartmentRequest{CompartmentId: &id, IfMatch: optString(cmd, "if-match", ifMatch),
					MoveCompartmentDetails: identity.MoveCompartmentDetails{TargetCompartmentId: &target}})
				return response{workRequest: r.OpcWorkRequestId}, err
			})
		})
	ocidFlag(cmd, &id, "compartment-id", "compartment to move")
	cmd.Flags().StringVar(&target, "target-compartment-id", "", "the OCID of the new parent compartment [required]")
	cmd.Flags().StringVar(&ifMatch, "if-match", "", "move only if the compartment's etag matches")
	return cmd
}

func iamWorkRequestCommand() *cobra.Command {
	var id string
	get := leaf("get", "Get a work request (compartment moves and deletions)",
		`  coffer iam work-request get --work-request-id $WORK_REQUEST --query data.status --raw-output`,
		hints{}, []string{"work-request-id"},
		func(cmd *cobra.Command, g *globals) error {
			return send(cmd, g, identityClient, func(ctx context.Context, c identity.IdentityClient) (response, error) {
				r, err := c.GetWorkRequest(ctx, identity.GetWorkRequestRequest{WorkRequestId: &id})
				return response{data: r.WorkRequest}, err
			})
		})
	ocidFlag(get, &id, "work-request-id", "work request")

	var comp, res string
	var l listFlags
	lst := listLeaf("list", "List the work requests of a compartment (where the compartments they acted on now live), newest first",
		`  coffer iam work-request list -c $PARENT --resource-identifier $COMP`,
		[]string{"compartment-id"}, &l, identityClient,
		func(cmd *cobra.Command, c identity.IdentityClient, limit *int, page *string) ([]identity.WorkRequestSummary, *string, error) {
			r, err := c.ListWorkRequests(cmd.Context(), identity.ListWorkRequestsRequest{CompartmentId: &comp, Limit: limit, Page: page,
				ResourceIdentifier: optString(cmd, "resource-identifier", res)})
			return r.Items, r.OpcNextPage, err
		})
	lst.Flags().StringVarP(&comp, "compartment-id", "c", "", "the OCID of the compartment [required]")
	lst.Flags().StringVar(&res, "resource-identifier", "", "only the work requests that acted on this resource")
	return group("work-request", "Work requests: the record of compartment moves and deletions",
		`  coffer iam work-request list -c $TENANCY`, get, lst)
}

func iamRegionCommand() *cobra.Command {
	lst := leaf("list", "List the regions (a Coffer server serves one)", `  coffer iam region list`, hints{}, nil,
		func(cmd *cobra.Command, g *globals) error {
			return send(cmd, g, identityClient, func(ctx context.Context, c identity.IdentityClient) (response, error) {
				r, err := c.ListRegions(ctx)
				return response{data: r.Items}, err
			})
		})
	return group("region", "Regions", `  coffer iam region list`, lst)
}

func iamAvailabilityDomainCommand() *cobra.Command {
	var comp string
	lst := leaf("list", "List the availability domains (a Coffer region has one)",
		`  coffer iam availability-domain list --query 'data[0].name' --raw-output`, hints{}, nil,
		func(cmd *cobra.Command, g *globals) error {
			id, err := tenancyDefault(g, comp)
			if err != nil {
				return err
			}
			return send(cmd, g, identityClient, func(ctx context.Context, c identity.IdentityClient) (response, error) {
				r, err := c.ListAvailabilityDomains(ctx, identity.ListAvailabilityDomainsRequest{CompartmentId: &id})
				return response{data: r.Items}, err
			})
		})
	lst.Flags().StringVarP(&comp, "compartment-id", "c", "", tenancyHelp)
	return group("availability-domain", "Availability domains", `  coffer iam availability-domain list`, lst)
}

func iamFaultDomainCommand() *cobra.Command {
	var comp, ad string
	lst := leaf("list", "List the fault domains of an availability domain",
		`  coffer iam fault-domain list --availability-domain "$(coffer iam availability-domain list --query 'data[0].name' --raw-output)"`,
		hints{}, []string{"availability-domain"},
		func(cmd *cobra.Command, g *globals) error {
			id, err := tenancyDefault(g, comp)
			if err != nil {
				return err
			}
			return send(cmd, g, identityClient, func(ctx context.Context, c identity.IdentityClient) (response, error) {
				r, err := c.ListFaultDomains(ctx, identity.ListFaultDomainsRequest{CompartmentId: &id, AvailabilityDomain: &ad})
				return response{data: r.Items}, err
			})
		})
	lst.Flags().StringVarP(&comp, "compartment-id", "c", "", tenancyHelp)
	lst.Flags().StringVar(&ad, "availability-domain", "", "the name of the availability domain [required]")
	return group("fault-domain", "Fault domains", `  coffer iam fault-domain list --availability-domain $AD`, lst)
}

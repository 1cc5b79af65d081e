package pb_hooks

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/spf13/cobra"

	"supportercrm/internal/giving"
)

// givingRoutes adds the donation import and the Gift Aid claim export.
func givingRoutes(se *core.ServeEvent) {
	se.Router.POST("/api/crm/import/donations", func(e *core.RequestEvent) error {
		f, err := upload(e)
		if err != nil {
			return e.BadRequestError(err.Error(), nil)
		}
		defer f.Close()
		provider := e.Request.URL.Query().Get("provider")
		if form := e.Request.MultipartForm; provider == "" && form != nil && len(form.Value["provider"]) > 0 {
			provider = form.Value["provider"][0]
		}
		sum, err := giving.Import(e.App, f, giving.Options{Provider: provider})
		if fe := badFile(err); fe != nil {
			return e.BadRequestError(fe.Error(), nil)
		}
		if err != nil {
			// What committed before the failure stays; the same file again
			// picks up where this stopped.
			e.App.Logger().Error("donation import failed", "error", err.Error())
			return e.JSON(http.StatusInternalServerError, map[string]any{"status": 500, "message": "The import stopped part way; running the same file again carries on.", "summary": sum})
		}
		return e.JSON(http.StatusOK, sum)
	}).Bind(adminOnly()...).Bind(apis.BodyLimit(importLimit))

	// A GET only reads: the claim preview, or a claim made before.
	se.Router.GET("/api/crm/export/gift-aid.csv", func(e *core.RequestEvent) error {
		ref := strings.TrimSpace(e.Request.URL.Query().Get("claim"))
		if ref == "" {
			return claimDownload(e, "gift-aid-unclaimed", "")
		}
		if !giving.ValidClaim(ref) {
			return e.BadRequestError("claim: "+giving.ErrBadClaim.Error(), nil)
		}
		made, err := giving.Claimed(e.App, ref)
		if err != nil {
			return err
		}
		if !made {
			return e.NotFoundError("There is no claim "+ref+": make it with POST /api/crm/gift-aid/claims.", nil)
		}
		return claimDownload(e, "gift-aid-claim-"+ref, ref)
	}).Bind(adminOnly()...)

	// Making a claim marks its donations, so it is a POST, answered with
	// the claim file. Made again, it adds nothing and gives the same file.
	// The admin's token comes in the Authorization header only (PocketBase
	// reads no cookie), which a cross-site form cannot send; the body must
	// be JSON, which one cannot send either.
	se.Router.POST("/api/crm/gift-aid/claims", func(e *core.RequestEvent) error {
		var body struct {
			Claim string `json:"claim"`
		}
		ct, _, _ := mime.ParseMediaType(e.Request.Header.Get("Content-Type"))
		if ct != "application/json" || json.NewDecoder(e.Request.Body).Decode(&body) != nil {
			return e.BadRequestError(`Send the claim as JSON: {"claim": "2026-11"}.`, nil)
		}
		ref := strings.TrimSpace(body.Claim)
		m, err := giving.MarkClaim(e.App, ref)
		if errors.Is(err, giving.ErrBadClaim) {
			return e.BadRequestError("claim: "+err.Error(), nil)
		}
		if err != nil {
			return err
		}
		h := e.Response.Header()
		h.Set("X-Claim-Marked", strconv.Itoa(m.Marked))
		h.Set("X-Claim-Existing", strconv.FormatBool(m.Existing))
		return claimDownload(e, "gift-aid-claim-"+ref, ref)
	}).Bind(adminOnly()...).Bind(apis.BodyLimit(4 << 10))
}

// claimDownload streams the claim ref (the preview if empty) as a CSV file.
func claimDownload(e *core.RequestEvent, name, ref string) error {
	return csvDownload(e, name, func(w io.Writer) (int, error) {
		t, err := giving.WriteClaim(e.Request.Context(), e.App, w, ref)
		return t.Donations, err
	})
}

// givingCommands are `import donations` and `export gift-aid`: the
// subcommands that crmCommands adds under `import` and `export`.
func givingCommands(app core.App) (imports, exports []*cobra.Command) {
	var provider string
	donations := &cobra.Command{
		Use:          "donations FILE.csv",
		Short:        "Import donations from a payment provider's CSV export, matched to supporters by email",
		Args:         cobra.ExactArgs(1),
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := openImport(app, args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			sum, err := giving.Import(app, f, giving.Options{Provider: provider})
			if badFile(err) != nil {
				return fmt.Errorf("%s: nothing was imported: %w", args[0], err)
			}
			printDonations(cmd.OutOrStdout(), sum)
			return err
		},
	}
	donations.Flags().StringVar(&provider, "provider", "", "the payment provider (stripe, paypal, bank…) for rows without a provider column")

	var claim, out string
	giftAid := &cobra.Command{
		Use:   "gift-aid",
		Short: "Export Gift Aid donations in the columns of HMRC's claim schedule: the next claim's preview, or a claim made before",
		Long: "Exports the Gift Aid eligible donations a declaration covers, in the columns of HMRC's Charities Online\n" +
			"schedule. Without --claim it is a preview of the next claim; with --claim REF, the claim made before\n" +
			"under REF, unchanged. It marks nothing: make a claim with `claim gift-aid REF`.",
		Args:         cobra.NoArgs,
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if claim != "" && !giving.ValidClaim(claim) {
				return giving.ErrBadClaim
			}
			return exportTo(cmd, app, out, func(w io.Writer) (int, error) {
				if claim == "" {
					fmt.Fprintln(cmd.ErrOrStderr(), "Preview: nothing is marked as claimed. Make the claim with `claim gift-aid REF`.")
				} else if made, err := giving.Claimed(app, claim); err != nil || !made {
					return 0, cmp.Or(err, fmt.Errorf("there is no claim %s: make it with `claim gift-aid %s`", claim, claim))
				}
				return claimFile(cmd, app, w, claim)
			})
		},
	}
	giftAid.Flags().StringVar(&claim, "claim", "", "export the claim made before under this reference")
	giftAid.Flags().StringVarP(&out, "output", "o", "", "write to this file instead of standard output")
	return []*cobra.Command{donations}, []*cobra.Command{giftAid}
}

// ClaimCommand is `claim gift-aid REF`: it marks the donations that can be
// claimed as claimed under REF and writes the claim file. A REF used
// before adds nothing and writes that claim again.
func ClaimCommand(app core.App) *cobra.Command {
	claim := &cobra.Command{Use: "claim", Short: "Make a claim"}
	var out string
	giftAid := &cobra.Command{
		Use:   "gift-aid REF",
		Short: "Make the Gift Aid claim REF (e.g. 2026-11): its donations are marked as claimed and written in HMRC's schedule columns",
		Long: "Marks every Gift Aid eligible donation a declaration covers, not yet in a claim, as claimed under REF,\n" +
			"so no later claim includes them, and writes the claim in the columns of HMRC's Charities Online schedule.\n" +
			"A REF used before adds nothing and writes that claim again, unchanged.",
		Args:         cobra.ExactArgs(1),
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			ref := args[0]
			if !giving.ValidClaim(ref) {
				return giving.ErrBadClaim
			}
			return exportTo(cmd, app, out, func(w io.Writer) (int, error) {
				m, err := giving.MarkClaim(app, ref)
				if err != nil {
					return 0, err
				}
				if m.Existing {
					fmt.Fprintf(cmd.ErrOrStderr(), "Claim %s was made before: exporting its donations again; nothing new was added.\n", ref)
				} else {
					fmt.Fprintf(cmd.ErrOrStderr(), "Claim %s: %d donations marked as claimed.\n", ref, m.Marked)
				}
				return claimFile(cmd, app, w, ref)
			})
		},
	}
	giftAid.Flags().StringVarP(&out, "output", "o", "", "write to this file instead of standard output")
	claim.AddCommand(giftAid)
	return claim
}

// claimFile writes the claim ref (the preview if empty) and tells its total.
func claimFile(cmd *cobra.Command, app core.App, w io.Writer, ref string) (int, error) {
	t, err := giving.WriteClaim(cmd.Context(), app, w, ref)
	if err == nil {
		fmt.Fprintf(cmd.ErrOrStderr(), "Total %s in %d donations.\n", giving.Pounds(t.AmountPence), t.Donations)
	}
	return t.Donations, err
}

// printDonations is the donation import's summary for people.
func printDonations(w io.Writer, s giving.Summary) {
	fmt.Fprintf(w, "Donations: created %d, skipped %d (imported before), errors %d.\n", s.Created, s.Skipped, s.Failed)
	printProblems(w, s.Ignored, s.Failed, s.Errors)
}

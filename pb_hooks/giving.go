package pb_hooks

import (
	"context"
	"errors"
	"fmt"
	"io"
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

	se.Router.GET("/api/crm/export/gift-aid.csv", func(e *core.RequestEvent) error {
		ref := strings.TrimSpace(e.Request.URL.Query().Get("claim"))
		name := "gift-aid-unclaimed"
		if ref != "" {
			m, err := giving.MarkClaim(e.App, ref)
			if errors.Is(err, giving.ErrBadClaim) {
				return e.BadRequestError(err.Error(), nil)
			}
			if err != nil {
				return err
			}
			h := e.Response.Header()
			h.Set("X-Claim-Marked", strconv.Itoa(m.Marked))
			h.Set("X-Claim-Existing", strconv.FormatBool(m.Existing))
			name = "gift-aid-claim-" + ref
		}
		return csvDownload(e, name, func(w io.Writer) (int, error) {
			t, err := giving.WriteClaim(e.Request.Context(), e.App, w, ref)
			return t.Donations, err
		})
	}).Bind(adminOnly()...)
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
		Short: "Export Gift Aid donations in the columns of HMRC's claim schedule; --claim marks them as claimed",
		Long: "Exports the Gift Aid eligible donations a declaration covers, in the columns of HMRC's Charities Online\n" +
			"schedule. Without --claim it is a preview and marks nothing. With --claim REF the donations are marked\n" +
			"as claimed under REF, so no later claim includes them; a REF used before exports that claim again,\n" +
			"unchanged.",
		Args:         cobra.NoArgs,
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if claim != "" && !giving.ValidClaim(claim) {
				return giving.ErrBadClaim
			}
			msg := cmd.ErrOrStderr()
			return exportTo(cmd, app, out, func(w io.Writer) (int, error) {
				if claim == "" {
					fmt.Fprintln(msg, "Preview: nothing is marked as claimed. Export with --claim REF to make the claim.")
				} else {
					m, err := giving.MarkClaim(app, claim)
					if err != nil {
						return 0, err
					}
					if m.Existing {
						fmt.Fprintf(msg, "Claim %s was made before: exporting its donations again; nothing new was added.\n", claim)
					} else {
						fmt.Fprintf(msg, "Claim %s: %d donations marked as claimed.\n", claim, m.Marked)
					}
				}
				t, err := giving.WriteClaim(context.Background(), app, w, claim)
				if err == nil {
					fmt.Fprintf(msg, "Total %s in %d donations.\n", giving.Pounds(t.AmountPence), t.Donations)
				}
				return t.Donations, err
			})
		},
	}
	giftAid.Flags().StringVar(&claim, "claim", "", "mark the exported donations as claimed under this reference (e.g. 2026-11)")
	giftAid.Flags().StringVarP(&out, "output", "o", "", "write to this file instead of standard output")
	return []*cobra.Command{donations}, []*cobra.Command{giftAid}
}

// printDonations is the donation import's summary for people.
func printDonations(w io.Writer, s giving.Summary) {
	fmt.Fprintf(w, "Donations: created %d, skipped %d (imported before), errors %d.\n", s.Created, s.Skipped, s.Failed)
	printProblems(w, s.Ignored, s.Failed, s.Errors)
}

package pb_hooks

import (
	"errors"
	"fmt"

	"github.com/pocketbase/pocketbase/core"
	"github.com/spf13/cobra"

	"supportercrm/internal/erasure"
	"supportercrm/internal/signup"
)

// PrivacyCommand is `erase supporter EMAIL_OR_ID`, beside `serve`, for
// erasure requests handled at the command line (see the README).
func PrivacyCommand(app core.App) *cobra.Command {
	erase := &cobra.Command{Use: "erase", Short: "Erase personal data on request"}
	erase.AddCommand(&cobra.Command{
		Use:   "supporter EMAIL_OR_ID",
		Short: "Erase a supporter: personal data removed, evidence kept anonymised, the address suppressed",
		Args:  cobra.ExactArgs(1),
		// A refusal (unknown supporter) is an answer, not a usage mistake.
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := app.RunAppMigrations(); err != nil {
				return err
			}
			x := &erasure.Eraser{App: app, Hash: signup.HashEmail}
			res, err := x.EraseEmailOrID(args[0])
			if errors.Is(err, erasure.ErrNotFound) {
				return fmt.Errorf("%w: %s", err, args[0])
			}
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if res.AlreadyErased {
				_, err = fmt.Fprintln(out, "Already erased; nothing to do.")
				return err
			}
			fmt.Fprintf(out, "Erased supporter %s: names, address, postcode, notes and tags removed; the address is on the suppression list.\n", res.Supporter)
			fmt.Fprintf(out, "Kept without personal data: %d consent rows, %d campaign deliveries, %d emails (%d queued, now cancelled).\n",
				res.ConsentsAnonymised, res.DeliveriesAnonymised, res.EmailsAnonymised, res.EmailsCancelled)
			switch {
			case res.DeclarationsKept > 0:
				fmt.Fprintf(out, "Gift Aid: %d declaration(s) kept whole until %s, as HMRC requires for claimed donations.\n", res.DeclarationsKept, res.KeptUntil)
			case res.DeclarationsDeleted > 0:
				fmt.Fprintf(out, "Gift Aid: %d declaration(s) deleted (none was needed for a claim).\n", res.DeclarationsDeleted)
			}
			return nil
		},
	})
	return erase
}

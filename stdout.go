package main

import (
	"os"

	"github.com/fatih/color"
	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"
)

// keepStdoutForData gives standard output to the commands' results alone
// (an export's CSV, an import's report), so `export supporters > file.csv`
// writes a clean file. PocketBase in dev mode (--dev, the default under
// `go run` or for any binary in the temp dir) prints every SQL statement,
// its logs and sent mail to os.Stdout and color.Output; those now go to
// standard error, while the commands write through cmd.OutOrStdout(), which
// keeps the real standard output. PocketBase also discards what commands
// write to cmd.ErrOrStderr() (row counts, a preview's warning); it goes to
// standard error too, and an error is printed once, by main.
func keepStdoutForData(root *cobra.Command) {
	root.SetOut(os.Stdout)
	root.SetErr(os.Stderr)
	root.SilenceErrors = true
	os.Stdout = os.Stderr
	color.Output = os.Stderr
	if !isatty.IsTerminal(os.Stderr.Fd()) {
		color.NoColor = true
	}
}

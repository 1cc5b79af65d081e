package testkit

import (
	"bytes"
	"testing"

	"github.com/pocketbase/pocketbase/core"
	"github.com/spf13/cobra"

	"supportercrm/pb_hooks"
)

// RunCommand runs one of the app's own commands (import, export, erase…)
// against app, as the binary would, and returns what it printed.
func RunCommand(t testing.TB, app core.App, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmds, err := pb_hooks.Commands(app, pb_hooks.Config{TokenSecret: TestSecret})
	if err != nil {
		t.Fatal(err)
	}
	root := &cobra.Command{Use: "supportercrm", SilenceErrors: true}
	root.AddCommand(cmds...)
	var out, errs bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errs)
	root.SetArgs(args)
	err = root.Execute()
	return out.String(), errs.String(), err
}

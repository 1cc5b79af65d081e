package pb_hooks

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"supportercrm/internal/charity"
	"supportercrm/internal/csvio"
	"supportercrm/internal/exporter"
	"supportercrm/internal/importer"
	"supportercrm/internal/signup"
	"supportercrm/internal/vocab"
)

// importLimit caps an uploaded import file (100,000 rows are about 15 MB).
const importLimit = 256 << 20

// adminOnly lets superusers and admin staff through: anonymous callers get
// 401 (from RequireAuth, bound with it), comms staff 403. Bulk tools (import,
// export, erasure) are for admins alone.
func adminOnly() []*hook.Handler[*core.RequestEvent] {
	return []*hook.Handler[*core.RequestEvent]{
		apis.RequireAuth(core.CollectionNameSuperusers, vocab.Staff),
		{Func: func(e *core.RequestEvent) error {
			if !e.HasSuperuserAuth() && e.Auth.GetString("role") != vocab.RoleAdmin {
				return e.ForbiddenError("Only admins can do this.", nil)
			}
			return e.Next()
		}},
	}
}

// crmRoutes adds the admins' bulk tools under /api/crm/.
func crmRoutes(se *core.ServeEvent, s *signup.Service) {
	im := &importer.Importer{App: s.App, Signup: s, Now: time.Now}
	se.Router.POST("/api/crm/import/supporters", func(e *core.RequestEvent) error {
		f, err := upload(e)
		if err != nil {
			return e.BadRequestError(err.Error(), nil)
		}
		defer f.Close()
		rep, err := im.Supporters(f, importer.Options{Confirm: e.Request.URL.Query().Get("confirm") == "true"})
		if fe := badFile(err); fe != nil {
			return e.BadRequestError(fe.Error(), nil)
		}
		if err != nil {
			return err
		}
		return e.JSON(http.StatusOK, rep)
	}).Bind(adminOnly()...).Bind(apis.BodyLimit(importLimit))
	se.Router.GET("/api/crm/export/supporters.csv", func(e *core.RequestEvent) error {
		q := e.Request.URL.Query()
		return csvDownload(e, "supporters", func(w io.Writer) (int, error) {
			return exporter.Supporters(e.App, w, exporter.Filter{Status: q.Get("status"), Topic: q.Get("topic"), Tag: q.Get("tag")})
		})
	}).Bind(adminOnly()...)
	se.Router.GET("/api/crm/export/consents.csv", func(e *core.RequestEvent) error {
		return csvDownload(e, "consents", func(w io.Writer) (int, error) { return exporter.Consents(e.App, w) })
	}).Bind(adminOnly()...)
	givingRoutes(se)
}

// badFile is err as a file refused whole (a 400: the admin's to fix), or nil.
func badFile(err error) *csvio.FileError {
	var fe *csvio.FileError
	if errors.As(err, &fe) {
		return fe
	}
	return nil
}

// upload is the file of a multipart upload (field "file"), or a text/csv body
// spooled to a temporary file: the importer reads the file twice.
func upload(e *core.RequestEvent) (io.ReadSeekCloser, error) {
	ct, _, _ := mime.ParseMediaType(e.Request.Header.Get("Content-Type"))
	if ct == "multipart/form-data" {
		f, _, err := e.Request.FormFile("file")
		if err != nil {
			return nil, fmt.Errorf("send the CSV as the multipart field \"file\": %w", err)
		}
		return f, nil
	}
	tmp, err := os.CreateTemp("", "crm-import-*.csv")
	if err != nil {
		return nil, err
	}
	os.Remove(tmp.Name()) // gone when closed
	if _, err := io.Copy(tmp, e.Request.Body); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("failed to read the upload: %w", err)
	}
	_, err = tmp.Seek(0, io.SeekStart)
	return tmp, err
}

// csvDownload streams an export. A bad filter is answered 400, and another
// failure 500, if no byte was sent yet; a failure midway can only cut the
// download short.
func csvDownload(e *core.RequestEvent, name string, write func(io.Writer) (int, error)) error {
	_, sent, err := csvio.Download(e.Response, name, write)
	switch {
	case err == nil:
		return nil
	case sent:
		e.App.Logger().Error("export cut short", "export", name, "error", err.Error())
		return nil
	case errors.Is(err, exporter.ErrBadFilter):
		return e.BadRequestError(err.Error(), nil)
	}
	return err
}

// crmCommands are the admins' bulk tools on the command line:
// `import supporters`, `export supporters` and `export consents`.
func crmCommands(app core.App, cfg Config) []*cobra.Command {
	imp := &cobra.Command{Use: "import", Short: "Import supporters or donations from CSV"}
	exp := &cobra.Command{Use: "export", Short: "Export supporters, consents or a Gift Aid claim to CSV"}

	var confirm bool
	supporters := &cobra.Command{
		Use:          "supporters FILE.csv",
		Short:        "Import supporters: matched by address, consent evidence recorded, bad rows reported by line",
		Args:         cobra.ExactArgs(1),
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := openImport(app, args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			_, set, signer, err := cfg.basics(app)
			if err != nil {
				return err
			}
			s := &signup.Service{App: app, Signer: signer, Views: set, Identity: func() (charity.Identity, error) { return charity.Load(app) }}
			bar := progressBar(cmd.ErrOrStderr())
			rep, err := (&importer.Importer{App: app, Signup: s, Now: time.Now}).Supporters(f, importer.Options{
				Confirm:  confirm,
				Progress: func(done, total int64) { bar.ChangeMax64(total); _ = bar.Set64(done) },
			})
			_ = bar.Finish()
			printReport(cmd.OutOrStdout(), rep)
			return err
		},
	}
	supporters.Flags().BoolVar(&confirm, "confirm", false, "email a confirmation link to rows imported as pending (those without consent evidence)")
	imp.AddCommand(supporters)

	var out, status, topic, tag string
	exportSupporters := &cobra.Command{
		Use:          "supporters",
		Short:        "Export supporters (all but erased ones) to CSV",
		Args:         cobra.NoArgs,
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return exportTo(cmd, app, out, func(w io.Writer) (int, error) {
				return exporter.Supporters(app, w, exporter.Filter{Status: status, Topic: topic, Tag: tag})
			})
		},
	}
	exportSupporters.Flags().StringVar(&status, "status", "", "only supporters with this status (pending, subscribed, unsubscribed, bounced, complained)")
	exportSupporters.Flags().StringVar(&topic, "topic", "", "only supporters of this topic (its slug)")
	exportSupporters.Flags().StringVar(&tag, "tag", "", "only supporters with this tag")
	exportConsents := &cobra.Command{
		Use:          "consents",
		Short:        "Export every consent record to CSV",
		Args:         cobra.NoArgs,
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return exportTo(cmd, app, out, func(w io.Writer) (int, error) { return exporter.Consents(app, w) })
		},
	}
	for _, c := range []*cobra.Command{exportSupporters, exportConsents} {
		c.Flags().StringVarP(&out, "output", "o", "", "write to this file instead of standard output")
		exp.AddCommand(c)
	}
	imports, exports := givingCommands(app)
	imp.AddCommand(imports...)
	exp.AddCommand(exports...)
	return []*cobra.Command{imp, exp}
}

// openImport brings the database up to date and opens the file to import.
func openImport(app core.App, path string) (*os.File, error) {
	if err := app.RunAppMigrations(); err != nil {
		return nil, err
	}
	return os.Open(path)
}

// exportTo runs an export into a file (made private: it holds personal
// data) or standard output, and says how many rows on standard error.
func exportTo(cmd *cobra.Command, app core.App, path string, write func(io.Writer) (int, error)) error {
	if err := app.RunAppMigrations(); err != nil {
		return err
	}
	var n int
	var err error
	if path == "" {
		n, err = write(cmd.OutOrStdout())
	} else {
		var f *os.File
		if f, err = os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600); err != nil {
			return err
		}
		n, err = write(f)
		if cerr := f.Close(); err == nil {
			err = cerr // a full disk shows here
		}
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "Exported %d rows.\n", n)
	return nil
}

// progressBar draws on a terminal only; in scripts and CI it stays silent.
func progressBar(w io.Writer) *progressbar.ProgressBar {
	f, ok := w.(*os.File)
	visible := ok && isatty.IsTerminal(f.Fd())
	return progressbar.NewOptions64(-1,
		progressbar.OptionSetWriter(w), progressbar.OptionSetVisibility(visible),
		progressbar.OptionSetDescription("importing"), progressbar.OptionShowBytes(true),
		progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish())
}

// printReport is the import's summary for people.
func printReport(w io.Writer, rep importer.Report) {
	fmt.Fprintf(w, "Rows: %d. Created %d, updated %d, unchanged %d, errors %d.\n", rep.Rows, rep.Created, rep.Updated, rep.Unchanged, rep.ErrorCount)
	for reason, n := range rep.Skipped {
		fmt.Fprintf(w, "Skipped (%s): %d\n", reason, n)
	}
	if rep.Confirmations > 0 {
		fmt.Fprintf(w, "Confirmation emails queued: %d\n", rep.Confirmations)
	}
	printProblems(w, rep.Ignored, rep.ErrorCount, rep.Errors)
	for _, p := range rep.Warnings {
		fmt.Fprintf(w, "line %d (note): %s\n", p.Line, p.Reason)
	}
}

// printProblems says which columns an import ignored, and lists its bad
// rows (count of them in all).
func printProblems(w io.Writer, ignored []string, count int, listed csvio.Problems) {
	if len(ignored) > 0 {
		fmt.Fprintf(w, "Columns ignored: %s\n", strings.Join(ignored, ", "))
	}
	for _, p := range listed {
		fmt.Fprintf(w, "line %d: %s\n", p.Line, p.Reason)
	}
	if count > len(listed) {
		fmt.Fprintf(w, "… and %d more errors\n", count-len(listed))
	}
}

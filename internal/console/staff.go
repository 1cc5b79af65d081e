package console

import (
	"net/http"
	"net/mail"
	"slices"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/vocab"
)

// The staff accounts page (admins): invite, change a role, disable and
// enable, send an invitation again. Every change is audited. The last active
// admin can't be demoted or disabled, so the console always has someone who
// can manage it.

type staffRow struct {
	ID, Name, Email, Role, State string
	Disabled, Invited, Self      bool
}

type staffPage struct {
	Rows  []staffRow
	Form  *Form
	Roles []string
}

func (c *Console) staffRoutes() {
	c.Nav("Staff", "/staff", Admin)
	c.GET("/staff", Admin, c.staffList)
	c.POST("/staff/invite", Admin, c.invite)
	c.POST("/staff/{id}/role", Admin, c.changeRole)
	c.POST("/staff/{id}/disable", Admin, c.setDisabled(true))
	c.POST("/staff/{id}/enable", Admin, c.setDisabled(false))
	c.POST("/staff/{id}/reinvite", Admin, c.reinvite)
}

func (c *Console) staffList(e *core.RequestEvent) error {
	return c.renderStaff(e, http.StatusOK, NewForm(nil))
}

func (c *Console) renderStaff(e *core.RequestEvent, status int, f *Form) error {
	recs, err := e.App.FindRecordsByFilter(vocab.Staff, "", "name,email", 0, 0)
	if err != nil {
		return err
	}
	me := Staff(e).Record.Id
	page := staffPage{Form: f, Roles: []string{vocab.RoleComms, vocab.RoleAdmin}}
	for _, r := range recs {
		row := staffRow{ID: r.Id, Name: r.GetString("name"), Email: r.Email(), Role: r.GetString("role"),
			Disabled: r.GetBool("disabled"), Invited: !r.Verified(), Self: r.Id == me}
		switch {
		case row.Disabled:
			row.State = "Disabled"
		case row.Invited:
			row.State = "Invited"
		default:
			row.State = "Active"
		}
		page.Rows = append(page.Rows, row)
	}
	return c.RenderStatus(e, status, "staff", page)
}

func (c *Console) invite(e *core.RequestEvent) error {
	f := NewForm(e)
	email, name, role := f.Get("email"), f.Get("name"), f.Get("role")
	if a, err := mail.ParseAddress(email); err != nil || a.Address != email || len(email) > 254 {
		f.Fail("email", "Enter an email address, like name@example.org.")
	} else if _, err := e.App.FindAuthRecordByEmail(vocab.Staff, email); err == nil {
		f.Fail("email", "There is already a staff account for this address.")
	}
	if len([]rune(name)) > 100 {
		f.Fail("name", "Keep the name to 100 characters.")
	}
	if !slices.Contains([]string{vocab.RoleComms, vocab.RoleAdmin}, role) {
		f.Fail("role", "Choose comms or admin.")
	}
	if !f.OK() {
		return c.renderStaff(e, http.StatusBadRequest, f)
	}
	coll, err := e.App.FindCachedCollectionByNameOrId(vocab.Staff)
	if err != nil {
		return err
	}
	rec := core.NewRecord(coll)
	rec.SetEmail(email)
	rec.Set("name", name)
	rec.Set("role", role)
	rec.SetRandomPassword()
	by := Staff(e).Record
	err = e.App.RunInTransaction(func(tx core.App) error {
		if err := tx.Save(rec); err != nil {
			return err
		}
		if err := c.sendInvite(tx, rec, by); err != nil {
			return err
		}
		return AuditRequest(tx, e, "staff.invite", "staff/"+rec.Id, "invited as "+role)
	})
	if err != nil {
		return err
	}
	return Redirect(e, "/staff", "Invitation sent to "+email+".")
}

// member finds the staff record of the route's {id}.
func member(e *core.RequestEvent) (*core.Record, error) {
	return e.App.FindRecordById(vocab.Staff, e.Request.PathValue("id"))
}

// lastAdmin reports whether rec is the only active admin.
func lastAdmin(app core.App, rec *core.Record) bool {
	if rec.GetString("role") != vocab.RoleAdmin || rec.GetBool("disabled") {
		return false
	}
	n, err := app.CountRecords(vocab.Staff, dbx.HashExp{"role": vocab.RoleAdmin, "disabled": false})
	return err != nil || n <= 1
}

func (c *Console) changeRole(e *core.RequestEvent) error {
	rec, err := member(e)
	if err != nil {
		return c.notFound(e)
	}
	f := NewForm(e)
	role := f.Get("role")
	if !slices.Contains([]string{vocab.RoleComms, vocab.RoleAdmin}, role) {
		f.Fail("role", "Choose comms or admin.")
		return c.renderStaff(e, http.StatusBadRequest, f)
	}
	old := rec.GetString("role")
	if old == role {
		return Redirect(e, "/staff", "")
	}
	if lastAdmin(e.App, rec) {
		f.Fail("role", "This is the only active admin: make someone else an admin first.")
		return c.renderStaff(e, http.StatusBadRequest, f)
	}
	rec.Set("role", role)
	err = e.App.RunInTransaction(func(tx core.App) error {
		if err := tx.Save(rec); err != nil {
			return err
		}
		return AuditRequest(tx, e, "staff.role", "staff/"+rec.Id, old+" → "+role)
	})
	if err != nil {
		return err
	}
	return Redirect(e, "/staff", rec.Email()+" is now "+role+".")
}

func (c *Console) setDisabled(disabled bool) func(*core.RequestEvent) error {
	return func(e *core.RequestEvent) error {
		rec, err := member(e)
		if err != nil {
			return c.notFound(e)
		}
		if disabled && lastAdmin(e.App, rec) {
			f := NewForm(e)
			f.Fail("role", "This is the only active admin: make someone else an admin first.")
			return c.renderStaff(e, http.StatusBadRequest, f)
		}
		rec.Set("disabled", disabled)
		action, said := "staff.enable", " can sign in again."
		if disabled {
			rec.RefreshTokenKey() // their sessions end now
			action, said = "staff.disable", " can no longer sign in."
		}
		err = e.App.RunInTransaction(func(tx core.App) error {
			if err := tx.Save(rec); err != nil {
				return err
			}
			return AuditRequest(tx, e, action, "staff/"+rec.Id, "")
		})
		if err != nil {
			return err
		}
		return Redirect(e, "/staff", rec.Email()+said)
	}
}

func (c *Console) reinvite(e *core.RequestEvent) error {
	rec, err := member(e)
	if err != nil {
		return c.notFound(e)
	}
	if rec.GetBool("disabled") {
		return Redirect(e, "/staff", rec.Email()+" is disabled: enable the account first.")
	}
	if rec.Verified() {
		return Redirect(e, "/staff", rec.Email()+" has already set a password.")
	}
	err = e.App.RunInTransaction(func(tx core.App) error {
		if err := c.sendInvite(tx, rec, Staff(e).Record); err != nil {
			return err
		}
		return AuditRequest(tx, e, "staff.reinvite", "staff/"+rec.Id, "")
	})
	if err != nil {
		return err
	}
	return Redirect(e, "/staff", "Invitation sent again to "+rec.Email()+".")
}

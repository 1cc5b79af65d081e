package pb_migrations

import (
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"
)

// API rules. nil means superusers only; superusers bypass every rule.
var (
	ruleStaff = types.Pointer(`@request.auth.collectionName = "staff"`)
	ruleAdmin = types.Pointer(`@request.auth.collectionName = "staff" && @request.auth.role = "admin"`)
)

func timestamps() []core.Field {
	return []core.Field{
		&core.AutodateField{Name: "created", OnCreate: true},
		&core.AutodateField{Name: "updated", OnCreate: true, OnUpdate: true},
	}
}

// deleteCollections removes collections in the order given (dependents
// first), for down migrations.
func deleteCollections(app core.App, names ...string) error {
	for _, name := range names {
		c, err := app.FindCollectionByNameOrId(name)
		if err != nil {
			return err
		}
		if err := app.Delete(c); err != nil {
			return err
		}
	}
	return nil
}

// setRules gives every API action the same rule.
func setRules(c *core.Collection, rule *string) {
	c.ListRule, c.ViewRule, c.CreateRule, c.UpdateRule, c.DeleteRule = rule, rule, rule, rule, rule
}
